/**
 * Autoscalers: KEDA ScaledObjects or HPAs, by `spec.autoscaling.provider` and API discovery: `auto` (the default)
 * takes KEDA when it runs (keda.sh/v1alpha1 and external.metrics.k8s.io both served: CRDs left behind by an
 * uninstalled KEDA do not count), `KEDA` whenever the ScaledObject API is served, `HPA` always HPAs. None when
 * autoscaling is off or the sale is over (then the Deployments carry fixed replicas). Bounds come from the replica
 * plan, which pre-scales before startsAt, caps the processor at the partition count and, past endsAt + grace, keeps
 * the processors until the backlog is gone; then none (status-only: one read-only gateway; over: nothing runs).
 */
import { childNames, REASONS } from '../api/types.ts';
import { buildHorizontalPodAutoscalers, buildScaledObjects } from '../builders/buildAutoscalers.ts';
import type { ReconcileContext } from './context.ts';
import { ensureAbsent, ensureApplied } from './ensure.ts';

const HPA = 'autoscaling/v2';

interface HpaStatusView {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
const KEDA = 'keda.sh/v1alpha1';
const EXTERNAL_METRICS = 'external.metrics.k8s.io/v1beta1';

export async function reconcileAutoscaling(ctx: ReconcileContext): Promise<void> {
  const names = childNames(ctx.ref.name);
  const kedaInstalled = await ctx.deps.kube.hasGroupVersion(KEDA);
  const removeHpas = async () => {
    await ensureAbsent(ctx, HPA, 'HorizontalPodAutoscaler', names.gatewayHpa);
    await ensureAbsent(ctx, HPA, 'HorizontalPodAutoscaler', names.processorHpa);
  };
  const removeScaledObjects = async () => {
    if (!kedaInstalled) return;
    await ensureAbsent(ctx, KEDA, 'ScaledObject', names.gatewayHpa);
    await ensureAbsent(ctx, KEDA, 'ScaledObject', names.processorHpa);
  };
  const { plan, spec } = ctx;
  const provider = spec.autoscaling.provider;
  const kedaRuns = kedaInstalled && provider === 'auto' && (await ctx.deps.kube.hasGroupVersion(EXTERNAL_METRICS));
  const useKeda = provider === 'KEDA' ? kedaInstalled : kedaRuns;
  const stage = ctx.schedule.waitingFor
    ? `${ctx.schedule.stage}, past endsAt + grace: waiting for ${ctx.schedule.waitingFor}`
    : ctx.schedule.stage;
  const bounds = `gateway ${plan.gateway.min}-${plan.gateway.max}, processor ${plan.processor.min}-${plan.processor.max}`;
  if (!plan.autoscaled) {
    await removeHpas();
    await removeScaledObjects();
    const { stage: st, statusUntil } = ctx.schedule;
    if (st === 'over') {
      ctx.condition('ScalingReady', 'True', REASONS.SaleOver, 'sale over: scaled to zero, data kept for audit');
    } else if (st === 'statusOnly') {
      ctx.condition(
        'ScalingReady',
        'True',
        REASONS.StatusOnly,
        `sale over, processors drained and at 0: one read-only gateway serves order status until ${new Date(statusUntil).toISOString()} (endsAt + statusRetention)`,
      );
    } else {
      ctx.condition(
        'ScalingReady',
        'True',
        REASONS.AutoscalingDisabled,
        `fixed replicas: gateway ${plan.gateway.replicas}, processor ${plan.processor.replicas}`,
      );
    }
    return;
  }
  if (useKeda) {
    await removeHpas();
    for (const so of buildScaledObjects(ctx.ref, spec, plan, ctx.gatewayScaleTarget)) await ensureApplied(ctx, so);
    ctx.condition('ScalingReady', 'True', REASONS.KedaScaledObjects, `KEDA ScaledObjects (${stage}): ${bounds}`);
    return;
  }
  await removeScaledObjects();
  const inactive: string[] = [];
  for (const hpa of buildHorizontalPodAutoscalers(ctx.ref, spec, plan, ctx.gatewayScaleTarget)) {
    const applied = (await ensureApplied(ctx, hpa)) as unknown as HpaStatusView;
    const active = applied.status?.conditions?.find((c) => c.type === 'ScalingActive');
    if (active?.status === 'False') {
      inactive.push(`${hpa.metadata.name}: ${active.reason}: ${(active.message ?? '').slice(0, 200)}`);
    }
  }
  if (inactive.length > 0) {
    // the floors (minReplicas) still hold; only metric-driven scaling is off
    ctx.condition(
      'ScalingReady',
      'False',
      REASONS.MetricsUnavailable,
      `HPAs (${stage}) cannot read their metrics (install metrics-server and prometheus-adapter with examples/prometheus-adapter-rules.yaml, or KEDA): ${inactive.join('; ')}`,
    );
  } else if (spec.autoscaling.provider === 'KEDA') {
    ctx.condition('ScalingReady', 'True', REASONS.KedaNotInstalled, `KEDA is not installed; using HPAs: ${bounds}`);
  } else {
    ctx.condition('ScalingReady', 'True', REASONS.HorizontalPodAutoscalers, `HPAs (${stage}): ${bounds}`);
  }
}
