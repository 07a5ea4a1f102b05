/**
 * The FlashSale API as the operator sees it: the object shape, condition reasons (constants, beside the types,
 * as in Kubernetes API packages) and the names of what a sale owns.
 */
import type { ConditionType, FlashSaleStatus, SalePhase } from '@flashsale/common';

export type { ConditionType, FlashSaleSpec, FlashSaleStatus, SalePhase } from '@flashsale/common';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  creationTimestamp?: string | Date;
}

/** The stored object; spec is unknown until parsed with the zod schema (the API server may hold older shapes). */
export interface FlashSaleObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: unknown;
  status?: FlashSaleStatus;
}

/** One status condition; `type` is one of CONDITION_TYPES (common/src/flashsale-spec.ts). */
export interface Condition {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export const FIELD_MANAGER = 'flashsale-operator';
export const CONTROLLER_NAME = 'flashsale';

/** Labels on everything the operator makes. */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  partOf: 'app.kubernetes.io/part-of',
  managedBy: 'app.kubernetes.io/managed-by',
  sale: 'flashsale.dev/sale',
} as const;
export const MANAGED_BY = 'flashsale-operator';
export const CONFIG_HASH_ANNOTATION = 'flashsale.dev/config-hash';
/** Blue-green: the colour label of gateway pods, and the pod-template hash a colour Deployment runs. */
export const COLOUR_LABEL = 'flashsale.dev/colour';
export const TEMPLATE_HASH_ANNOTATION = 'flashsale.dev/template-hash';
/** Field manager that holds a Deployment's replicas while they are handed from the operator to the HPA. */
export const HANDOVER_FIELD_MANAGER = 'flashsale-operator-handover';

/** Condition reasons (CamelCase, stable: users and alerts match on them). */
export const REASONS = {
  // Ready / Progressing / Degraded
  Reconciled: 'Reconciled',
  Reconciling: 'Reconciling',
  InvalidSpec: 'InvalidSpec',
  ReconcileError: 'ReconcileError',
  WaitingForWorkloads: 'WaitingForWorkloads',
  WaitingForDependencies: 'WaitingForDependencies',
  Paused: 'Paused',
  NotPaused: 'NotPaused',
  AsExpected: 'AsExpected',
  Deleting: 'Deleting',
  CleanupFailed: 'CleanupFailed',
  // InventorySeeded
  Seeded: 'Seeded',
  Restocked: 'Restocked',
  Reduced: 'Reduced',
  RedisUnavailable: 'RedisUnavailable',
  /** a seed refused (also Ready/Degraded): an item is seeded in Redis with another stockBuckets than the spec asks */
  StockBucketsChangeRefused: 'StockBucketsChangeRefused',
  /** a seed refused: a reduction of a bucketed item beyond its unsold units */
  ReductionRefused: 'ReductionRefused',
  // TopicsReady
  TopicsCreated: 'TopicsCreated',
  KafkaUnavailable: 'KafkaUnavailable',
  PartitionsCannotShrink: 'PartitionsCannotShrink',
  // WorkloadsAvailable
  DeploymentsAvailable: 'DeploymentsAvailable',
  DeploymentsNotAvailable: 'DeploymentsNotAvailable',
  ScaledDown: 'ScaledDown',
  // ScalingReady
  HorizontalPodAutoscalers: 'HorizontalPodAutoscalers',
  KedaScaledObjects: 'KedaScaledObjects',
  KedaNotInstalled: 'KedaNotInstalled',
  MetricsUnavailable: 'MetricsUnavailable',
  AutoscalingDisabled: 'AutoscalingDisabled',
  SaleOver: 'SaleOver',
  /** past endsAt + grace, drained: one read-only gateway serves order status until endsAt + statusRetention */
  StatusOnly: 'StatusOnly',
  // MonitoringReady
  MonitoringCreated: 'MonitoringCreated',
  MonitoringDisabled: 'MonitoringDisabled',
  PrometheusOperatorNotInstalled: 'PrometheusOperatorNotInstalled',
  // Secrets
  SecretNotFound: 'SecretNotFound',
  // blue-green rollout (Degraded reason, events)
  RolloutAborted: 'RolloutAborted',
  RolloutStarted: 'RolloutStarted',
  RollingOut: 'RollingOut',
  RolloutPaused: 'RolloutPaused',
  Promoted: 'Promoted',
  ScaledDownOldColour: 'ScaledDownOldColour',
} as const;
export type Reason = (typeof REASONS)[keyof typeof REASONS];

/** Names of the objects one sale owns. */
export const childNames = (sale: string) => ({
  config: `${sale}-config`,
  /** ServiceAccount of the gateway and processor pods: no Role bound, no token mounted */
  workload: `${sale}-workload`,
  /** NetworkPolicies of the gateway and processor pods */
  gatewayPolicy: `${sale}-gateway`,
  processorPolicy: `${sale}-processor`,
  gateway: `${sale}-gateway`,
  processor: `${sale}-processor`,
  processorMetrics: `${sale}-processor-metrics`,
  gatewayPdb: `${sale}-gateway`,
  processorPdb: `${sale}-processor`,
  gatewayHpa: `${sale}-gateway`,
  /** blue-green: one Deployment per colour, and a Service on the preview colour */
  gatewayColour: (colour: 'blue' | 'green') => `${sale}-gateway-${colour}`,
  gatewayPreview: `${sale}-gateway-preview`,
  processorHpa: `${sale}-processor`,
  rule: `${sale}-alerts`,
  monitor: `${sale}`,
});

export type Phase = SalePhase;
