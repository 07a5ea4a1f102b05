/** PrometheusRule (the runbook's alerts for this sale) and ServiceMonitor, for the Prometheus Operator. */
import { type FlashSaleSpec, saleAlertGroups } from '@flashsale/common';
import { childNames, LABELS } from '../api/types.ts';
import { childMeta, type SaleRef } from './meta.ts';

export const MONITORING_GROUP_VERSION = 'monitoring.coreos.com/v1';

export function buildPrometheusRule(sale: SaleRef, spec: FlashSaleSpec, runbookUrl?: string) {
  return {
    apiVersion: MONITORING_GROUP_VERSION,
    kind: 'PrometheusRule',
    metadata: childMeta(sale, childNames(sale.name).rule, 'monitoring', spec.monitoring.labels),
    spec: {
      groups: saleAlertGroups({
        sale: sale.name,
        namespace: sale.namespace,
        thresholds: spec.monitoring.alerts,
        runbookUrl,
      }),
    },
  };
}

/** One ServiceMonitor over the gateway Service and the processor metrics Service; adds the `sale` label. */
export function buildServiceMonitor(sale: SaleRef, spec: FlashSaleSpec) {
  const relabelings = [
    {
      sourceLabels: [`__meta_kubernetes_service_label_${LABELS.sale.replace(/[./-]/g, '_')}`],
      targetLabel: 'sale',
      action: 'replace',
    },
  ];
  const endpoint = (port: string) => ({ port, path: '/metrics', interval: spec.monitoring.interval, relabelings });
  return {
    apiVersion: MONITORING_GROUP_VERSION,
    kind: 'ServiceMonitor',
    metadata: childMeta(sale, childNames(sale.name).monitor, 'monitoring', spec.monitoring.labels),
    spec: {
      selector: { matchLabels: { [LABELS.sale]: sale.name } },
      namespaceSelector: { matchNames: [sale.namespace] },
      endpoints: [endpoint('http'), endpoint('metrics')],
    },
  };
}
