/**
 * Abort (analysis failed or inconclusive with `onInconclusive: Abort`, progress deadline passed, or the abort
 * annotation): the Service back on the active colour alone before the preview goes to 0 (a preview that shared live
 * traffic drains instead of failing requests), Degraded reason RolloutAborted and a Warning event. The aborted
 * template is not retried; a new spec (or the old one back) ends it.
 */
import { REASONS } from '../../api/types.ts';
import type { RolloutContext } from './rolloutContext.ts';
import { reconcileServices } from './syncRolloutStatus.ts';

export async function abortRollout(rc: RolloutContext, why: string): Promise<true> {
  rc.r = {
    ...rc.r,
    phase: 'Aborted',
    step: 'Aborted',
    abortedHash: rc.hash,
    message: `aborted: ${why}; traffic stays on ${rc.active}`,
    ...rc.seen,
    promoteRequested: undefined,
  };
  await reconcileServices(rc);
  if (rc.previewDep && (rc.previewDep.spec?.replicas ?? 0) > 0) await rc.setReplicas(rc.previewName, 0);
  rc.ctx.event(
    'Warning',
    REASONS.RolloutAborted,
    `Blue-green rollout of ${rc.preview} aborted: ${why}; ${rc.active} serves`,
  );
  return true;
}
