/** Labels, owner references and object metadata shared by every builder. */
import { FLASHSALE_API_VERSION, FLASHSALE_KIND } from '@flashsale/common';
import { LABELS, MANAGED_BY } from '../api/types.ts';

export interface SaleRef {
  name: string;
  namespace: string;
  uid: string;
}

export type Component = 'gateway' | 'processor' | 'config' | 'monitoring' | 'autoscaling';

export function saleLabels(sale: string, component?: Component): Record<string, string> {
  return {
    [LABELS.name]: 'flash-sale-engine',
    [LABELS.instance]: sale,
    [LABELS.partOf]: 'flash-sale-engine',
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.sale]: sale,
    ...(component ? { [LABELS.component]: component } : {}),
  };
}

/** Pod selector of a component: stable forever (a Deployment's selector is immutable). */
export function selectorLabels(sale: string, component: 'gateway' | 'processor'): Record<string, string> {
  return { [LABELS.sale]: sale, [LABELS.component]: component };
}

export function ownerReference(sale: SaleRef) {
  return {
    apiVersion: FLASHSALE_API_VERSION,
    kind: FLASHSALE_KIND,
    name: sale.name,
    uid: sale.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childMeta(
  sale: SaleRef,
  name: string,
  component?: Component,
  extraLabels: Record<string, string> = {},
) {
  return {
    name,
    namespace: sale.namespace,
    labels: { ...saleLabels(sale.name, component), ...extraLabels },
    ownerReferences: [ownerReference(sale)],
  };
}
