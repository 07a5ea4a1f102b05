/** The gateway Service (traffic) and a headless processor metrics Service (for the ServiceMonitor). */
import type { FlashSaleSpec } from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { GATEWAY_PORT, PROCESSOR_METRICS_PORT } from './buildDeployments.ts';
import { childMeta, type SaleRef, selectorLabels } from './meta.ts';

export function buildGatewayService(sale: SaleRef, spec: FlashSaleSpec) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(sale, childNames(sale.name).gateway, 'gateway'),
    spec: {
      type: spec.gateway.service.type,
      selector: selectorLabels(sale.name, 'gateway'),
      ports: [{ name: 'http', port: spec.gateway.service.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export function buildProcessorMetricsService(sale: SaleRef) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMeta(sale, childNames(sale.name).processorMetrics, 'processor'),
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(sale.name, 'processor'),
      ports: [{ name: 'metrics', port: PROCESSOR_METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
    },
  };
}

export const gatewayEndpoint = (sale: SaleRef, spec: FlashSaleSpec) =>
  `http://${childNames(sale.name).gateway}.${sale.namespace}.svc:${spec.gateway.service.port}`;

export { GATEWAY_PORT };
