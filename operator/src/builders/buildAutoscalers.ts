/**
 * Autoscaling: KEDA ScaledObjects with Prometheus triggers, or HorizontalPodAutoscalers (autoscaling/v2) on the same
 * Prometheus series served by prometheus-adapter (examples/prometheus-adapter-rules.yaml). Both read the queries of
 * common/src/sale-queries.ts: the processor scales on the sale's consumer lag counted once (the operator's
 * `flashsale_consumer_lag`), never on a sum over processor pods. The processor's maximum never exceeds the partition
 * count (more consumers than partitions idle).
 */
import {
  consumerLagQuery,
  type FlashSaleSpec,
  gatewayRequestRateQuery,
  parseDurationMs,
  saleMatchers,
} from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { childMeta, type SaleRef } from './meta.ts';
import type { ReplicaPlan } from './schedule.ts';

/** Metric names the HPAs ask the custom/external metrics API for (provided by the adapter rules). */
export const HPA_METRICS = {
  gatewayRequestsPerSecond: 'flashsale_gateway_requests_per_second',
  processorConsumerLag: 'flashsale_processor_consumer_lag',
} as const;

/** Up at once (doubling every 15 s), down slowly: `autoscaling.scaleDown` (HPAs and KEDA's HPAs alike). */
function behaviorOf(spec: FlashSaleSpec) {
  const down = spec.autoscaling.scaleDown;
  return {
    scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    scaleDown: {
      stabilizationWindowSeconds: Math.round(parseDurationMs(down.stabilizationWindow) / 1000),
      policies: [{ type: 'Pods', value: down.podsPerMinute, periodSeconds: 60 }],
    },
  };
}

export function buildHorizontalPodAutoscalers(
  sale: SaleRef,
  spec: FlashSaleSpec,
  plan: ReplicaPlan,
  gatewayTarget = childNames(sale.name).gateway,
) {
  const names = childNames(sale.name);
  const a = spec.autoscaling;
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
      behavior: behaviorOf(spec),
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
      behavior: behaviorOf(spec),
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
  const sel = saleMatchers(sale.name, sale.namespace);
  const common = {
    pollingInterval: 15,
    cooldownPeriod: 300,
    advanced: { horizontalPodAutoscalerConfig: { behavior: behaviorOf(spec) } },
  };
  // an empty answer (the series gone: the operator or Prometheus down) is an error, not 0: after 3 of them KEDA
  // falls back to the floor, or keeps the current replicas when they are more
  const fallback = (replicas: number) => ({ failureThreshold: 3, replicas, behavior: 'currentReplicasIfHigher' });
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
        fallback: fallback(plan.gateway.min),
        triggers: [
          { type: 'cpu', metricType: 'Utilization', metadata: { value: String(a.gateway.targetCPUUtilization) } },
          {
            type: 'prometheus',
            metadata: {
              serverAddress: a.prometheusAddress,
              query: gatewayRequestRateQuery(sel),
              threshold: String(a.gateway.targetRequestsPerSecond),
              ignoreNullValues: 'false',
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
        fallback: fallback(plan.processor.min),
        triggers: [
          {
            type: 'prometheus',
            metadata: {
              serverAddress: a.prometheusAddress,
              query: consumerLagQuery(sel),
              threshold: String(a.processor.targetLagPerReplica),
              ignoreNullValues: 'false',
            },
          },
        ],
      },
    },
  ];
}
