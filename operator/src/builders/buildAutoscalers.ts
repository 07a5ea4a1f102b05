/**
 * Autoscaling: HorizontalPodAutoscalers (autoscaling/v2) on Prometheus metrics served by prometheus-adapter
 * (rules in docs/operator.md and examples/prometheus-adapter-rules.yaml), or KEDA ScaledObjects with Prometheus
 * triggers. The processor's maximum never exceeds the partition count (more consumers than partitions idle).
 */
import { type FlashSaleSpec, GATEWAY_METRICS, PROCESSOR_METRICS } from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { childMeta, type SaleRef } from './meta.ts';
import type { ReplicaPlan } from './schedule.ts';

/** Metric names the HPAs ask the custom/external metrics API for (provided by the adapter rules). */
export const HPA_METRICS = {
  gatewayRequestsPerSecond: 'flashsale_gateway_requests_per_second',
  processorConsumerLag: 'flashsale_processor_consumer_lag',
} as const;

export function buildHorizontalPodAutoscalers(
  sale: SaleRef,
  spec: FlashSaleSpec,
  plan: ReplicaPlan,
  gatewayTarget = childNames(sale.name).gateway,
) {
  const names = childNames(sale.name);
  const a = spec.autoscaling;
  const behavior = {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] },
  };
  const gateway = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMeta(sale, names.gatewayHpa, 'gateway'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: gatewayTarget },
      minReplicas: plan.gateway.min,
      maxReplicas: plan.gateway.max,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: a.gateway.targetCPUUtilization },
          },
        },
        {
          type: 'Pods',
          pods: {
            metric: { name: HPA_METRICS.gatewayRequestsPerSecond },
            target: { type: 'AverageValue', averageValue: String(a.gateway.targetRequestsPerSecond) },
          },
        },
      ],
      behavior,
    },
  };
  const processor = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: childMeta(sale, names.processorHpa, 'processor'),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: names.processor },
      minReplicas: plan.processor.min,
      maxReplicas: plan.processor.max,
      metrics: [
        {
          type: 'External',
          external: {
            metric: {
              name: HPA_METRICS.processorConsumerLag,
              selector: { matchLabels: { sale: sale.name } },
            },
            target: { type: 'AverageValue', averageValue: String(a.processor.targetLagPerReplica) },
          },
        },
      ],
      behavior,
    },
  };
  return [gateway, processor];
}

export function buildScaledObjects(
  sale: SaleRef,
  spec: FlashSaleSpec,
  plan: ReplicaPlan,
  gatewayTarget = childNames(sale.name).gateway,
) {
  const names = childNames(sale.name);
  const a = spec.autoscaling;
  const sel = `sale="${sale.name}",namespace="${sale.namespace}"`;
  const common = { pollingInterval: 15, cooldownPeriod: 300 };
  return [
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: childMeta(sale, names.gatewayHpa, 'gateway'),
      spec: {
        ...common,
        scaleTargetRef: { name: gatewayTarget },
        minReplicaCount: plan.gateway.min,
        maxReplicaCount: plan.gateway.max,
        fallback: { failureThreshold: 3, replicas: plan.gateway.min },
        triggers: [
          { type: 'cpu', metricType: 'Utilization', metadata: { value: String(a.gateway.targetCPUUtilization) } },
          {
            type: 'prometheus',
            metadata: {
              serverAddress: a.prometheusAddress,
              query: `sum(rate(${GATEWAY_METRICS.httpRequests}{${sel}}[1m]))`,
              threshold: String(a.gateway.targetRequestsPerSecond),
            },
          },
        ],
      },
    },
    {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: childMeta(sale, names.processorHpa, 'processor'),
      spec: {
        ...common,
        scaleTargetRef: { name: names.processor },
        minReplicaCount: plan.processor.min,
        maxReplicaCount: plan.processor.max,
        fallback: { failureThreshold: 3, replicas: plan.processor.min },
        triggers: [
          {
            type: 'prometheus',
            metadata: {
              serverAddress: a.prometheusAddress,
              query: `sum(${PROCESSOR_METRICS.consumerLag}{${sel}})`,
              threshold: String(a.processor.targetLagPerReplica),
            },
          },
        ],
      },
    },
  ];
}
