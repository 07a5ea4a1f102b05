/**
 * One context object per reconcile: the FlashSale as read, its parsed spec, the clock, the replica plan, the
 * dependencies, and what the steps observed (for the status, computed once at the end).
 */
import type { EnsureTopicsResult, FlashSaleSpec, ItemAudit, Logger, RolloutStatus } from '@flashsale/common';
import type { Condition, ConditionType, FlashSaleObject, Reason } from '../api/types.ts';
import type { SaleRef } from '../builders/meta.ts';
import type { ReplicaPlan, Schedule } from '../builders/schedule.ts';
import type { OperatorConfig } from '../config.ts';
import type { KafkaAdmins, KafkaCredentials } from '../external/kafkaSide.ts';
import type { RedisCredentials, RedisPool } from '../external/redisSide.ts';
import type { Kube } from '../kube/client.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { OperatorMetrics } from '../metrics.ts';
import { conditionsOf, type Status, setCondition } from './conditions.ts';

export interface Deps {
  kube: Kube;
  redis: RedisPool;
  kafka: KafkaAdmins;
  recorder: EventRecorder;
  log: Logger;
  config: OperatorConfig;
  metrics: OperatorMetrics;
  now: () => number;
}

export interface DeploymentObservation {
  name: string;
  available: boolean;
  desired: number;
  ready: number;
  message: string;
  progressDeadlineExceeded: boolean;
}

export interface Observed {
  inventory?: ItemAudit[];
  topics?: EnsureTopicsResult;
  gateway?: DeploymentObservation;
  processor?: DeploymentObservation;
  /** blue-green rollout state (status.rollout); undefined with the Rolling strategy */
  rollout?: RolloutStatus;
  /** dependency failures seen in this reconcile (status is written, then the reconcile is retried) */
  dependencyErrors: string[];
  /** a refused seed of one or more items (stockBuckets differs from Redis, a reduction too large): fix the spec */
  seedRefused?: { reason: Reason; message: string };
}

export class ReconcileContext {
  readonly deps: Deps;
  readonly sale: FlashSaleObject;
  readonly ref: SaleRef;
  readonly spec: FlashSaleSpec;
  readonly now: Date;
  readonly schedule: Schedule;
  readonly plan: ReplicaPlan;
  readonly log: Logger;
  readonly observed: Observed = { dependencyErrors: [] };
  credentials: { redis: RedisCredentials; kafka: KafkaCredentials } = { redis: {}, kafka: {} };
  conditions: Condition[];
  /** Deployment the gateway autoscaler targets (blue-green: the active colour) */
  gatewayScaleTarget: string;
  private requeueMs: number | undefined;

  constructor(
    deps: Deps,
    sale: FlashSaleObject,
    spec: FlashSaleSpec,
    now: Date,
    schedule: Schedule,
    plan: ReplicaPlan,
  ) {
    this.deps = deps;
    this.sale = sale;
    this.spec = spec;
    this.now = now;
    this.schedule = schedule;
    this.plan = plan;
    this.ref = { name: sale.metadata.name, namespace: sale.metadata.namespace, uid: sale.metadata.uid };
    this.log = deps.log.child({ flashsale: `${this.ref.namespace}/${this.ref.name}` });
    this.conditions = conditionsOf(sale.status);
    this.gatewayScaleTarget = `${sale.metadata.name}-gateway`;
  }

  get generation(): number | undefined {
    return this.sale.metadata.generation;
  }

  condition(type: ConditionType, status: Status, reason: Reason, message: string): void {
    this.conditions = setCondition(this.conditions, type, status, reason, message, this.generation, this.now);
  }

  /** Ask to be reconciled again within `ms` (the soonest request wins). */
  requeueAfter(ms: number): void {
    if (ms > 0 && (this.requeueMs === undefined || ms < this.requeueMs)) this.requeueMs = ms;
  }

  get requeueAfterMs(): number | undefined {
    return this.requeueMs;
  }

  event(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.deps.recorder.event(this.sale, type, reason, message);
  }
}
