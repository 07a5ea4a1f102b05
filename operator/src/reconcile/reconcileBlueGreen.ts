/**
 * Blue-green upgrades of the gateway (`upgradeStrategy.type: BlueGreen`), one step per reconcile, level-based: the
 * state is `status.rollout` plus the colour Deployments' template-hash annotations, so a restarted (or new) operator
 * continues where the last one stopped.
 *
 *   steady:   the active colour runs the desired template; the Service selects it; the HPA targets it.
 *   change:   the preview colour gets the new template at the active side's current replica count (kept in step with
 *             the HPA while the rollout runs) -> every pod Ready -> optional Prometheus analysis over the window ->
 *             pause (autoPromote false / pause annotation) -> promote: replicas handed over to the HPA, the Service
 *             selector switched in one update, the HPA retargeted -> after scaleDownDelaySeconds the old colour goes
 *             to 0 replicas (kept for a fast rollback until the next upgrade).
 *   abort:    analysis failed, progress deadline passed, or the abort annotation: the Service stays on the active
 *             colour, the preview goes to 0, Degraded=True reason RolloutAborted and a Warning event. The aborted
 *             template is not retried; a new spec (or the old one back) ends it.
 */
import {
  ABORT_ANNOTATION,
  type GatewayColour,
  PAUSE_ROLLOUT_ANNOTATION,
  PROMOTE_ANNOTATION,
  parseDurationMs,
  type RolloutStatus,
} from '@flashsale/common';
import type { V1Deployment } from '@kubernetes/client-node';
import { childNames, HANDOVER_FIELD_MANAGER, REASONS, TEMPLATE_HASH_ANNOTATION } from '../api/types.ts';
import {
  buildActiveService,
  buildColourDeployment,
  buildPreviewService,
  gatewayTemplateHash,
  otherColour,
  replicasOnly,
} from '../builders/buildBlueGreen.ts';
import { buildGatewayDeployment } from '../builders/buildDeployments.ts';
import { analysePreview } from '../external/prometheusAnalysis.ts';
import type { ReconcileContext } from './context.ts';
import { ensureAbsent, ensureApplied } from './ensure.ts';
import { observeDeployment } from './observeDeployment.ts';

/** How often a running rollout is looked at (the Deployment informer wakes us sooner on pod changes). */
const ROLLOUT_POLL_MS = 1_000;

const APPS = 'apps/v1';

/** Every pod of the latest template Ready and Available, none of an older one. */
export function fullyAvailable(d: V1Deployment | null): { ok: boolean; message: string } {
  if (!d) return { ok: false, message: 'not created yet' };
  const want = d.spec?.replicas ?? 1;
  const st = d.status ?? {};
  const current = (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const ready = st.readyReplicas ?? 0;
  const ok =
    current &&
    want > 0 &&
    (st.updatedReplicas ?? 0) === want &&
    ready === want &&
    (st.availableReplicas ?? 0) === want &&
    (st.replicas ?? 0) === want;
  return { ok, message: `${ready}/${want} ready, ${st.updatedReplicas ?? 0} updated` };
}

export async function reconcileGatewayBlueGreen(ctx: ReconcileContext, configHash: string): Promise<void> {
  const { deps, ref, spec, plan } = ctx;
  const ns = ref.namespace;
  const names = childNames(ref.name);
  const kube = deps.kube;
  const strategy = spec.upgradeStrategy;
  const autoscaled = plan.autoscaled;
  const fixedReplicas = autoscaled ? undefined : plan.gateway.replicas;
  const nowIso = ctx.now.toISOString();
  const nowMs = ctx.now.getTime();
  const ann = ctx.sale.metadata.annotations ?? {};

  const base = buildGatewayDeployment({
    sale: ref,
    spec,
    defaults: deps.config.workloads,
    replicas: undefined,
    configHash,
    readOnly: ctx.schedule.stage === 'statusOnly',
  });
  const hash = gatewayTemplateHash(base);
  const prev: RolloutStatus = ctx.sale.status?.rollout ?? {};
  const active: GatewayColour = prev.activeColour ?? 'blue';
  const preview = otherColour(active);
  const activeName = names.gatewayColour(active);
  const previewName = names.gatewayColour(preview);
  const getDeployment = (n: string) => kube.get<V1Deployment>(APPS, 'Deployment', ns, n);
  const applyColour = async (colour: GatewayColour, replicas: number | undefined) =>
    (await ensureApplied(ctx, buildColourDeployment(base, ref, colour, hash, replicas))) as unknown as V1Deployment;
  /** Hand the replica count to the HPA: a second manager holds it while the operator's apply drops the field. */
  const handOver = (n: string, replicas: number) => kube.apply(replicasOnly(ref, n, replicas), HANDOVER_FIELD_MANAGER);
  const scaleOnly = (n: string, replicas: number) => kube.apply(replicasOnly(ref, n, replicas), HANDOVER_FIELD_MANAGER);

  let activeDep = await getDeployment(activeName);
  let previewDep = await getDeployment(previewName);
  let r: RolloutStatus = { ...prev, activeColour: active, previewColour: preview };
  ctx.gatewayScaleTarget = activeName;

  // 1. First colour (new sale, or a sale switched from Rolling: the old Deployment serves until blue is available)
  if (!activeDep) {
    const legacy = await getDeployment(names.gateway);
    const start = legacy?.spec?.replicas ?? (autoscaled ? plan.gateway.min : (fixedReplicas ?? 1));
    activeDep = await applyColour(active, fixedReplicas ?? Math.max(1, start));
    if (autoscaled) {
      // created at the old count, then the count is handed to the HPA (never defaulted to 1 pod mid-sale)
      await handOver(activeName, Math.max(1, start));
      activeDep = await applyColour(active, undefined);
    }
    r = { activeColour: active, previewColour: preview, activeHash: hash, phase: 'Promoted', step: 'Done' };
  }
  const activeHash = activeDep.metadata?.annotations?.[TEMPLATE_HASH_ANNOTATION];
  const activeReady = fullyAvailable(activeDep).ok || (activeDep.status?.readyReplicas ?? 0) > 0;
  const legacy = await getDeployment(names.gateway);
  // migrating from Rolling: keep selecting every gateway pod until the active colour serves, then drop the old one
  await ensureApplied(ctx, buildActiveService(ref, spec, legacy && !activeReady ? undefined : active));
  if (legacy && activeReady) await ensureAbsent(ctx, APPS, 'Deployment', names.gateway);
  await ensureApplied(ctx, buildPreviewService(ref, spec, preview));
  ctx.observed.gateway = observeDeployment(activeDep);

  // the sale is over: no rollouts; both colours at 0 (the template is taken as is, no pods run it), or, in the
  // status-only stage, the active colour at one read-only pod (a plain rolling update of that Deployment)
  if (ctx.schedule.stage === 'over' || ctx.schedule.stage === 'statusOnly') {
    const replicas = fixedReplicas ?? 0;
    activeDep = await applyColour(active, replicas);
    if ((previewDep?.spec?.replicas ?? 0) > 0) await scaleOnly(previewName, 0);
    ctx.observed.gateway = observeDeployment(activeDep);
    ctx.observed.rollout = {
      ...r,
      activeHash: hash,
      previewHash: undefined,
      phase: 'Promoted',
      step: 'Done',
      message:
        replicas > 0
          ? `sale over: the ${active} colour serves order status read-only (${replicas} replica)`
          : 'sale over: both colours at 0 replicas',
    };
    return;
  }

  const abortRequested = Boolean(ann[ABORT_ANNOTATION]) && ann[ABORT_ANNOTATION] !== prev.seenAbort;
  const promoteRequested = Boolean(ann[PROMOTE_ANNOTATION]) && ann[PROMOTE_ANNOTATION] !== prev.seenPromote;

  // 2a. Rollback: abort requested after a promotion, while the old colour still has all its pods (scale-down delay)
  const oldHash = previewDep?.metadata?.annotations?.[TEMPLATE_HASH_ANNOTATION];
  if (activeHash === hash && abortRequested && prev.step === 'ScaleDown' && oldHash && fullyAvailable(previewDep).ok) {
    const count = previewDep?.spec?.replicas ?? 1;
    if (autoscaled) await handOver(previewName, count);
    await ensureApplied(ctx, buildActiveService(ref, spec, preview));
    await ensureApplied(ctx, buildPreviewService(ref, spec, active));
    ctx.gatewayScaleTarget = previewName;
    if (autoscaled) await scaleOnly(activeName, activeDep.spec?.replicas ?? count);
    ctx.observed.gateway = observeDeployment(previewDep as V1Deployment);
    const why = 'abort requested after the promotion (flashsale.dev/abort)';
    r = {
      activeColour: preview,
      previewColour: active,
      activeHash: oldHash,
      abortedHash: hash,
      phase: 'Aborted',
      step: 'Aborted',
      message: `rolled back: ${why}; traffic back on ${preview}`,
      seenAbort: ann[ABORT_ANNOTATION],
      seenPromote: ann[PROMOTE_ANNOTATION],
    };
    ctx.event('Warning', REASONS.RolloutAborted, `Rolled back to ${preview}: ${why}`);
    ctx.observed.rollout = r;
    return;
  }

  // 2. Steady: the active colour already runs the desired template
  if (activeHash === hash) {
    activeDep = await applyColour(active, fixedReplicas);
    ctx.observed.gateway = observeDeployment(activeDep);
    if (prev.phase === 'Progressing' || prev.phase === 'Paused' || prev.phase === 'Aborted') {
      // the spec came back to what the active colour runs: nothing to roll out any more
      r = {
        ...r,
        phase: 'Promoted',
        step: 'Done',
        message: `rollout of ${prev.previewHash ?? 'a change'} cancelled: the spec is back to the active template`,
        previewHash: undefined,
        abortedHash: undefined,
        startedAt: undefined,
        previewReadyAt: undefined,
        analysis: undefined,
        promoteRequested: undefined,
        scaleDownAt: nowIso,
      };
    }
    const previewReplicas = previewDep?.spec?.replicas ?? 0;
    if (previewDep && previewReplicas > 0) {
      const due = r.scaleDownAt ? Date.parse(r.scaleDownAt) : nowMs;
      if (due > nowMs) {
        r.step = 'ScaleDown';
        r.message = `${active} serves; ${preview} (${previewReplicas} pods) goes to 0 at ${r.scaleDownAt}`;
        ctx.requeueAfter(due - nowMs + 20);
      } else {
        await scaleOnly(previewName, 0);
        ctx.event('Normal', REASONS.ScaledDownOldColour, `Scaled ${previewName} to 0 (kept for a fast rollback)`);
        r.step = 'Done';
        r.message = `${active} serves; ${preview} scaled to 0`;
      }
    } else if (r.step !== 'Done') {
      r.step = 'Done';
      r.message = `${active} serves`;
    }
    r.seenAbort = ann[ABORT_ANNOTATION] ?? r.seenAbort;
    r.seenPromote = ann[PROMOTE_ANNOTATION] ?? r.seenPromote;
    r.message ??= `${active} serves`;
    ctx.observed.rollout = r;
    return;
  }

  // 3. A rollout is wanted (the desired template differs from the active colour's)
  if (prev.phase === 'Aborted' && prev.abortedHash === hash) {
    // aborted: stays so until the spec changes again; the preview keeps 0 replicas
    if ((previewDep?.spec?.replicas ?? 0) > 0) await scaleOnly(previewName, 0);
    r.seenAbort = ann[ABORT_ANNOTATION] ?? r.seenAbort;
    r.seenPromote = ann[PROMOTE_ANNOTATION] ?? r.seenPromote;
    ctx.observed.rollout = r;
    return;
  }
  const isNew = prev.previewHash !== hash || (prev.phase !== 'Progressing' && prev.phase !== 'Paused');
  if (isNew) {
    r = {
      activeColour: active,
      previewColour: preview,
      activeHash,
      previewHash: hash,
      phase: 'Progressing',
      step: 'Preview',
      startedAt: nowIso,
      // requests made before this rollout began are not for it
      seenAbort: ann[ABORT_ANNOTATION],
      seenPromote: ann[PROMOTE_ANNOTATION],
    };
    ctx.event(
      'Normal',
      REASONS.RolloutStarted,
      `Rolling out gateway template ${hash} to ${preview} (active ${active})`,
    );
  } else {
    if (promoteRequested) r.promoteRequested = true;
    r.seenPromote = ann[PROMOTE_ANNOTATION] ?? r.seenPromote;
  }

  const abort = async (why: string) => {
    await ensureApplied(ctx, buildActiveService(ref, spec, active));
    if (previewDep && (previewDep.spec?.replicas ?? 0) > 0) await scaleOnly(previewName, 0);
    r = {
      ...r,
      phase: 'Aborted',
      step: 'Aborted',
      abortedHash: hash,
      message: `aborted: ${why}; traffic stays on ${active}`,
      seenAbort: ann[ABORT_ANNOTATION],
      seenPromote: ann[PROMOTE_ANNOTATION],
      promoteRequested: undefined,
    };
    ctx.event('Warning', REASONS.RolloutAborted, `Blue-green rollout of ${preview} aborted: ${why}; ${active} serves`);
    ctx.observed.rollout = r;
  };

  if (!isNew && abortRequested) return abort('abort requested by the annotation flashsale.dev/abort');

  // the preview side at the active side's current size (the HPA's count), every reconcile while the rollout runs
  const activeReplicas = fixedReplicas ?? Math.max(1, activeDep.spec?.replicas ?? 1, plan.gateway.min);
  previewDep = await applyColour(preview, activeReplicas);
  const avail = fullyAvailable(previewDep);
  const pausedByHand = ann[PAUSE_ROLLOUT_ANNOTATION] === 'true';
  const deadlineMs = Date.parse(r.startedAt ?? nowIso) + strategy.progressDeadlineSeconds * 1000;
  const deadlineApplies = prev.phase !== 'Paused' || !pausedByHand;

  if (!avail.ok) {
    if (nowMs >= deadlineMs && deadlineApplies) {
      return abort(`preview ${preview} not available within ${strategy.progressDeadlineSeconds}s (${avail.message})`);
    }
    r = { ...r, phase: 'Progressing', step: 'Preview', message: `preview ${preview}: ${avail.message}` };
    r.previewReadyAt = undefined;
    ctx.requeueAfter(Math.min(ROLLOUT_POLL_MS, Math.max(50, deadlineMs - nowMs)));
    ctx.observed.rollout = r;
    return;
  }
  r.previewReadyAt ??= nowIso;

  // analysis (skipped by a manual promote)
  const a = strategy.analysis;
  if (a && !r.promoteRequested && r.analysis !== 'Passed' && r.analysis !== 'Inconclusive') {
    const windowMs = Math.max(0, Date.parse(r.previewReadyAt) + parseDurationMs(a.window) - nowMs);
    if (windowMs > 0) {
      if (nowMs >= deadlineMs) return abort(`analysis not finished within ${strategy.progressDeadlineSeconds}s`);
      r = {
        ...r,
        phase: 'Progressing',
        step: 'Analysis',
        message: `preview ${preview} ready; analysing for ${a.window}`,
      };
      ctx.requeueAfter(Math.min(windowMs + 20, Math.max(50, deadlineMs - nowMs)));
      ctx.observed.rollout = r;
      return;
    }
    const verdict = await analysePreview(a, ns, names.gatewayPreview, deps.config.dependencyTimeoutMs);
    if (verdict.result === 'Failed') return abort(`analysis failed: ${verdict.message}`);
    if (verdict.result === 'Inconclusive') {
      if (a.onInconclusive === 'Abort') return abort(`analysis inconclusive: ${verdict.message}`);
      r.analysis = 'Inconclusive';
      r.analysisMessage = verdict.message;
    } else {
      r.analysis = 'Passed';
      r.analysisMessage = verdict.message;
    }
  }

  const inconclusivePause = r.analysis === 'Inconclusive' && a?.onInconclusive === 'Pause';
  if (!r.promoteRequested && (pausedByHand || !strategy.autoPromote || inconclusivePause)) {
    const why = pausedByHand
      ? 'paused by the annotation flashsale.dev/pause-rollout'
      : inconclusivePause
        ? `analysis inconclusive (${r.analysisMessage}); promote or abort by hand`
        : 'autoPromote is false';
    if (prev.phase !== 'Paused') ctx.event('Normal', REASONS.RolloutPaused, `Rollout paused before promotion: ${why}`);
    r = { ...r, phase: 'Paused', step: 'Paused', message: `preview ${preview} ready; ${why}` };
    ctx.observed.rollout = r;
    return;
  }

  // promote: replicas to the HPA (through the hand-over manager), one selector update, HPA retargeted
  const count = previewDep.spec?.replicas ?? activeReplicas;
  if (autoscaled) {
    await handOver(previewName, count);
    previewDep = await applyColour(preview, undefined);
    // the old colour leaves the HPA: pin its count (operator-owned) until the scale-down
    await scaleOnly(activeName, activeDep.spec?.replicas ?? count);
  }
  await ensureApplied(ctx, buildActiveService(ref, spec, preview));
  await ensureApplied(ctx, buildPreviewService(ref, spec, active));
  ctx.gatewayScaleTarget = previewName;
  ctx.observed.gateway = observeDeployment(previewDep);
  const scaleDownAt = new Date(nowMs + strategy.scaleDownDelaySeconds * 1000).toISOString();
  r = {
    activeColour: preview,
    previewColour: active,
    activeHash: hash,
    phase: 'Promoted',
    step: 'ScaleDown',
    startedAt: r.startedAt,
    promotedAt: nowIso,
    scaleDownAt,
    analysis: r.analysis,
    analysisMessage: r.analysisMessage,
    message: `${preview} promoted (${count} pods); ${active} goes to 0 at ${scaleDownAt}`,
    seenAbort: ann[ABORT_ANNOTATION],
    seenPromote: ann[PROMOTE_ANNOTATION],
  };
  ctx.event('Normal', REASONS.Promoted, `Promoted ${preview} (template ${hash}); ${active} kept until ${scaleDownAt}`);
  ctx.requeueAfter(strategy.scaleDownDelaySeconds * 1000 + 20);
  ctx.observed.rollout = r;
}

/** Rolling strategy after blue-green: the colour Deployments and the preview Service go once the gateway serves. */
export async function removeBlueGreen(ctx: ReconcileContext): Promise<void> {
  const names = childNames(ctx.ref.name);
  if (!ctx.observed.gateway?.available) return;
  await ensureAbsent(ctx, APPS, 'Deployment', names.gatewayColour('blue'));
  await ensureAbsent(ctx, APPS, 'Deployment', names.gatewayColour('green'));
  await ensureAbsent(ctx, 'v1', 'Service', names.gatewayPreview);
}
