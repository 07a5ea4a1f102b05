/**
 * Least privilege of a sale's workloads: a ServiceAccount of their own with no Role bound and no token mounted, and
 * NetworkPolicies: the gateway takes traffic on its HTTP port only, the processor on its metrics port only; both
 * reach DNS and the ports of the sale's Redis and Kafka only (the addresses may be outside the cluster, so egress is
 * limited by port, not by pod selector).
 */
import { type FlashSaleSpec, parseAddrList } from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { GATEWAY_PORT, PROCESSOR_METRICS_PORT } from './buildDeployments.ts';
import { childMeta, type SaleRef, selectorLabels } from './meta.ts';

export function buildWorkloadServiceAccount(sale: SaleRef) {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMeta(sale, childNames(sale.name).workload),
    automountServiceAccountToken: false,
  };
}

/** Ports of the sale's Redis and Kafka, each once. */
export function dataStorePorts(spec: FlashSaleSpec): number[] {
  const ports = [
    ...parseAddrList(spec.redis.addr, 'spec.redis.addr'),
    ...parseAddrList(spec.kafka.brokers, 'spec.kafka.brokers'),
  ].map((a) => a.port);
  return [...new Set(ports)].sort((a, b) => a - b);
}

function policy(sale: SaleRef, spec: FlashSaleSpec, component: 'gateway' | 'processor', port: number) {
  const names = childNames(sale.name);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMeta(sale, component === 'gateway' ? names.gatewayPolicy : names.processorPolicy, component),
    spec: {
      podSelector: { matchLabels: selectorLabels(sale.name, component) },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ ports: [{ port, protocol: 'TCP' }] }],
      egress: [
        {
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
        { ports: dataStorePorts(spec).map((p) => ({ port: p, protocol: 'TCP' })) },
      ],
    },
  };
}

export function buildNetworkPolicies(sale: SaleRef, spec: FlashSaleSpec) {
  return [policy(sale, spec, 'gateway', GATEWAY_PORT), policy(sale, spec, 'processor', PROCESSOR_METRICS_PORT)];
}
