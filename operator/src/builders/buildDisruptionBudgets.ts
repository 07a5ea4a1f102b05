/** PodDisruptionBudgets: drain at most one pod of each component at a time. */
import { childNames } from '../api/types.ts';
import { childMeta, type SaleRef, selectorLabels } from './meta.ts';

export function buildDisruptionBudgets(sale: SaleRef) {
  const names = childNames(sale.name);
  return (['gateway', 'processor'] as const).map((component) => ({
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMeta(sale, component === 'gateway' ? names.gatewayPdb : names.processorPdb, component),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(sale.name, component) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  }));
}
