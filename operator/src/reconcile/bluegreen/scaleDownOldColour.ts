/**
 * After a promotion the old colour keeps its pods for `scaleDownDelaySeconds` (in-flight requests drain, and an
 * abort can still roll back to it), then goes to 0 replicas: kept as a Deployment for the next rollout.
 */
import { REASONS } from '../../api/types.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function scaleDownOldColour(rc: RolloutContext): Promise<void> {
  const { ctx, r } = rc;
  const previewReplicas = rc.previewDep?.spec?.replicas ?? 0;
  if (rc.previewDep && previewReplicas > 0) {
    const due = r.scaleDownAt ? Date.parse(r.scaleDownAt) : rc.nowMs;
    if (due > rc.nowMs) {
      r.step = 'ScaleDown';
      r.message = `${rc.active} serves; ${rc.preview} (${previewReplicas} pods) goes to 0 at ${r.scaleDownAt}`;
      ctx.requeueAfter(due - rc.nowMs + 20);
    } else {
      await rc.setReplicas(rc.previewName, 0);
      ctx.event('Normal', REASONS.ScaledDownOldColour, `Scaled ${rc.previewName} to 0 (kept for a fast rollback)`);
      r.step = 'Done';
      r.message = `${rc.active} serves; ${rc.preview} scaled to 0`;
    }
  } else if (r.step !== 'Done') {
    r.step = 'Done';
    r.message = `${rc.active} serves`;
  }
}
