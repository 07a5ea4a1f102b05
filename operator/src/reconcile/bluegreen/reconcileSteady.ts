/**
 * Steady: the active colour already runs the desired template. A rollout still under way ends (the spec came back
 * to the active template), then the old colour is scaled down once its delay has passed.
 */
import { observeDeployment } from '../observeDeployment.ts';
import { activeHashOf } from './ensureFirstColour.ts';
import type { RolloutContext } from './rolloutContext.ts';
import { scaleDownOldColour } from './scaleDownOldColour.ts';

export async function reconcileSteady(rc: RolloutContext): Promise<boolean> {
  if (activeHashOf(rc) !== rc.hash) return false;
  rc.activeDep = await rc.applyColour(rc.active, rc.fixedReplicas);
  rc.ctx.observed.gateway = observeDeployment(rc.activeDep);
  const { prev } = rc;
  if (prev.phase === 'Progressing' || prev.phase === 'Paused' || prev.phase === 'Aborted') {
    // the spec came back to what the active colour runs: nothing to roll out any more
    rc.r = {
      ...rc.r,
      phase: 'Promoted',
      step: 'Done',
      message: `rollout of ${prev.previewHash ?? 'a change'} cancelled: the spec is back to the active template`,
      previewHash: undefined,
      abortedHash: undefined,
      startedAt: undefined,
      previewReadyAt: undefined,
      analysis: undefined,
      promoteRequested: undefined,
      scaleDownAt: rc.nowIso,
    };
  }
  await scaleDownOldColour(rc);
  rc.r.seenAbort = rc.seen.seenAbort ?? rc.r.seenAbort;
  rc.r.seenPromote = rc.seen.seenPromote ?? rc.r.seenPromote;
  rc.r.message ??= `${rc.active} serves`;
  return true;
}
