/**
 * What every blue-green step reads and writes, like Argo Rollouts' rollout/context.go: the reconcile context, the
 * desired gateway template and its hash, the two colour Deployments as read, the previous `status.rollout` and the
 * new one (`r`) the steps build. A step returns true when this reconcile ends there (its status goes through
 * syncRolloutStatus), false to go on to the next step.
 */
import {
  ABORT_ANNOTATION,
  type GatewayColour,
  PAUSE_ROLLOUT_ANNOTATION,
  PROMOTE_ANNOTATION,
  type RolloutStatus,
} from '@flashsale/common';
import type { V1Deployment } from '@kubernetes/client-node';
import { childNames, HANDOVER_FIELD_MANAGER } from '../../api/types.ts';
import {
  buildColourDeployment,
  gatewayTemplateHash,
  otherColour,
  replicasOnly,
} from '../../builders/buildBlueGreen.ts';
import { buildGatewayDeployment } from '../../builders/buildDeployments.ts';
import type { ReconcileContext } from '../context.ts';
import { ensureApplied } from '../ensure.ts';

export const APPS = 'apps/v1';

/** How often a running rollout is looked at (the Deployment informer wakes us sooner on pod changes). */
export const ROLLOUT_POLL_MS = 1_000;

export type Step = (rc: RolloutContext) => Promise<boolean>;

type GatewayDeployment = ReturnType<typeof buildGatewayDeployment>;

export class RolloutContext {
  readonly ctx: ReconcileContext;
  readonly names: ReturnType<typeof childNames>;
  /** the gateway Deployment as desired, before colour labels; its pod template's hash */
  readonly base: GatewayDeployment;
  readonly hash: string;
  /** status.rollout as read */
  readonly prev: RolloutStatus;
  readonly active: GatewayColour;
  readonly preview: GatewayColour;
  readonly activeName: string;
  readonly previewName: string;
  /** undefined: the HPA holds the gateway's replica count */
  readonly fixedReplicas: number | undefined;
  readonly nowMs: number;
  readonly nowIso: string;
  readonly annotations: Record<string, string>;
  activeDep: V1Deployment | null = null;
  previewDep: V1Deployment | null = null;
  /** the Rolling strategy's Deployment, while a sale migrates to BlueGreen */
  legacy: V1Deployment | null = null;
  /** the active colour has Ready pods (the legacy Deployment may go) */
  activeReady = false;
  /** status.rollout as this reconcile leaves it */
  r: RolloutStatus & { activeColour: GatewayColour; previewColour: GatewayColour };

  constructor(ctx: ReconcileContext, configHash: string) {
    this.ctx = ctx;
    this.names = childNames(ctx.ref.name);
    this.base = buildGatewayDeployment({
      sale: ctx.ref,
      spec: ctx.spec,
      defaults: ctx.deps.config.workloads,
      replicas: undefined,
      configHash,
      readOnly: ctx.schedule.stage === 'statusOnly',
    });
    this.hash = gatewayTemplateHash(this.base);
    this.prev = ctx.sale.status?.rollout ?? {};
    this.active = this.prev.activeColour ?? 'blue';
    this.preview = otherColour(this.active);
    this.activeName = this.names.gatewayColour(this.active);
    this.previewName = this.names.gatewayColour(this.preview);
    this.fixedReplicas = ctx.plan.autoscaled ? undefined : ctx.plan.gateway.replicas;
    this.nowMs = ctx.now.getTime();
    this.nowIso = ctx.now.toISOString();
    this.annotations = ctx.sale.metadata.annotations ?? {};
    this.r = { ...this.prev, activeColour: this.active, previewColour: this.preview };
  }

  get strategy() {
    return this.ctx.spec.upgradeStrategy;
  }

  get autoscaled(): boolean {
    return this.ctx.plan.autoscaled;
  }

  /** An abort annotation this rollout has not handled yet. */
  get abortRequested(): boolean {
    const a = this.annotations[ABORT_ANNOTATION];
    return Boolean(a) && a !== this.prev.seenAbort;
  }

  get promoteRequested(): boolean {
    const p = this.annotations[PROMOTE_ANNOTATION];
    return Boolean(p) && p !== this.prev.seenPromote;
  }

  /** The annotations' values as handled by this reconcile. */
  get seen(): Pick<RolloutStatus, 'seenAbort' | 'seenPromote'> {
    return { seenAbort: this.annotations[ABORT_ANNOTATION], seenPromote: this.annotations[PROMOTE_ANNOTATION] };
  }

  /** Manual pause (`kubectl flashsale pause`): the progress deadline does not run while a paused rollout waits. */
  get pausedByHand(): boolean {
    return this.annotations[PAUSE_ROLLOUT_ANNOTATION] === 'true';
  }

  /** The rollout must be promoted (or paused) by then, or it is aborted. */
  get deadlineMs(): number {
    return Date.parse(this.r.startedAt ?? this.nowIso) + this.strategy.progressDeadlineSeconds * 1000;
  }

  getDeployment(name: string): Promise<V1Deployment | null> {
    return this.ctx.deps.kube.get<V1Deployment>(APPS, 'Deployment', this.ctx.ref.namespace, name);
  }

  /** A colour runs the desired template; `replicas` undefined: left to the HPA. */
  async applyColour(colour: GatewayColour, replicas: number | undefined): Promise<V1Deployment> {
    const d = buildColourDeployment(this.base, this.ctx.ref, colour, this.hash, replicas);
    return (await ensureApplied(this.ctx, d)) as unknown as V1Deployment;
  }

  /**
   * Only the replica count, under a second field manager: hands the count to the HPA (the operator's apply then drops
   * the field without it falling to the default of 1), or pins or zeroes a colour outside the HPA.
   */
  async setReplicas(name: string, replicas: number): Promise<void> {
    await this.ctx.deps.kube.apply(replicasOnly(this.ctx.ref, name, replicas), HANDOVER_FIELD_MANAGER);
  }
}
