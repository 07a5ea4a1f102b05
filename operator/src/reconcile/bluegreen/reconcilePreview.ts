/**
 * The preview colour runs the new template at the active side's current size (the HPA's count), re-applied every
 * reconcile while the rollout runs; until every pod is Ready the rollout waits, within the progress deadline.
 */
import { abortRollout } from './abortRollout.ts';
import { fullyAvailable } from './fullyAvailable.ts';
import { ROLLOUT_POLL_MS, type RolloutContext } from './rolloutContext.ts';

export async function reconcilePreview(rc: RolloutContext): Promise<boolean> {
  const { ctx, prev } = rc;
  const replicas = rc.fixedReplicas ?? Math.max(1, rc.activeDep?.spec?.replicas ?? 1, ctx.plan.gateway.min);
  rc.previewDep = await rc.applyColour(rc.preview, replicas);
  const avail = fullyAvailable(rc.previewDep);
  if (avail.ok) {
    rc.r.previewReadyAt ??= rc.nowIso;
    return false;
  }
  const deadlineMs = rc.deadlineMs;
  const deadlineApplies = prev.phase !== 'Paused' || !rc.pausedByHand;
  if (rc.nowMs >= deadlineMs && deadlineApplies) {
    const s = rc.strategy.progressDeadlineSeconds;
    return abortRollout(rc, `preview ${rc.preview} not available within ${s}s (${avail.message})`);
  }
  rc.r = { ...rc.r, phase: 'Progressing', step: 'Preview', message: `preview ${rc.preview}: ${avail.message}` };
  rc.r.previewReadyAt = undefined;
  ctx.requeueAfter(Math.min(ROLLOUT_POLL_MS, Math.max(50, deadlineMs - rc.nowMs)));
  return true;
}
