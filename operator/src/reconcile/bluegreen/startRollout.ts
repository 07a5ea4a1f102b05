/**
 * A rollout is wanted (the desired template differs from the active colour's): an aborted one stays aborted until
 * the spec changes again; a new one starts (annotations set before it are not for it); a running one notes a promote
 * request, or ends on an abort request.
 */
import { REASONS } from '../../api/types.ts';
import { abortRollout } from './abortRollout.ts';
import { activeHashOf } from './ensureFirstColour.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function holdAborted(rc: RolloutContext): Promise<boolean> {
  const { prev } = rc;
  if (prev.phase !== 'Aborted' || prev.abortedHash !== rc.hash) return false;
  // the preview keeps 0 replicas
  if ((rc.previewDep?.spec?.replicas ?? 0) > 0) await rc.setReplicas(rc.previewName, 0);
  rc.r.seenAbort = rc.seen.seenAbort ?? rc.r.seenAbort;
  rc.r.seenPromote = rc.seen.seenPromote ?? rc.r.seenPromote;
  return true;
}

export async function startRollout(rc: RolloutContext): Promise<boolean> {
  const { prev, ctx } = rc;
  const isNew = prev.previewHash !== rc.hash || (prev.phase !== 'Progressing' && prev.phase !== 'Paused');
  if (isNew) {
    rc.r = {
      activeColour: rc.active,
      previewColour: rc.preview,
      activeHash: activeHashOf(rc),
      previewHash: rc.hash,
      phase: 'Progressing',
      step: 'Preview',
      startedAt: rc.nowIso,
      // requests made before this rollout began are not for it
      ...rc.seen,
    };
    ctx.event(
      'Normal',
      REASONS.RolloutStarted,
      `Rolling out gateway template ${rc.hash} to ${rc.preview} (active ${rc.active})`,
    );
    return false;
  }
  if (rc.promoteRequested) rc.r.promoteRequested = true;
  rc.r.seenPromote = rc.seen.seenPromote ?? rc.r.seenPromote;
  if (rc.abortRequested) return abortRollout(rc, 'abort requested by the annotation flashsale.dev/abort');
  return false;
}
