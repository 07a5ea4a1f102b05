/**
 * Pause before the promotion (unless a promote was requested): by the pause annotation, with `autoPromote: false`,
 * or on an inconclusive analysis with `onInconclusive: Pause`. The preview keeps its pods and gets no live traffic.
 */
import { REASONS } from '../../api/types.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function pauseRollout(rc: RolloutContext): Promise<boolean> {
  const { r, strategy } = rc;
  const inconclusivePause = r.analysis === 'Inconclusive' && strategy.analysis?.onInconclusive === 'Pause';
  if (r.promoteRequested || !(rc.pausedByHand || !strategy.autoPromote || inconclusivePause)) return false;
  const why = rc.pausedByHand
    ? 'paused by the annotation flashsale.dev/pause-rollout'
    : inconclusivePause
      ? `analysis inconclusive (${r.analysisMessage}); promote or abort by hand`
      : 'autoPromote is false';
  if (rc.prev.phase !== 'Paused')
    rc.ctx.event('Normal', REASONS.RolloutPaused, `Rollout paused before promotion: ${why}`);
  rc.r = { ...r, phase: 'Paused', step: 'Paused', message: `preview ${rc.preview} ready; ${why}` };
  return true;
}
