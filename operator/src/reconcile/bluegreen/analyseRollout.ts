/**
 * The optional Prometheus analysis (skipped by a manual promote): the preview serves for `analysis.window` from the
 * moment every pod is Ready (with `previewTraffic: Shared`, a share of live orders: syncRolloutStatus widens the
 * Service while the step is Analysis), then is judged once: Failed aborts; Inconclusive does what
 * `onInconclusive` says; Passed goes on to the pause check and the promotion.
 */
import { parseDurationMs } from '@flashsale/common';
import { analysePreview } from '../../external/prometheusAnalysis.ts';
import { abortRollout } from './abortRollout.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function analyseRollout(rc: RolloutContext): Promise<boolean> {
  const { ctx } = rc;
  const a = rc.strategy.analysis;
  if (!a || rc.r.promoteRequested || rc.r.analysis === 'Passed' || rc.r.analysis === 'Inconclusive') return false;
  const readyAt = Date.parse(rc.r.previewReadyAt ?? rc.nowIso);
  const windowLeftMs = Math.max(0, readyAt + parseDurationMs(a.window) - rc.nowMs);
  const deadlineMs = rc.deadlineMs;
  if (windowLeftMs > 0) {
    if (rc.nowMs >= deadlineMs) {
      return abortRollout(rc, `analysis not finished within ${rc.strategy.progressDeadlineSeconds}s`);
    }
    const traffic = a.previewTraffic === 'Shared' ? ' on a share of live orders' : '';
    rc.r = {
      ...rc.r,
      phase: 'Progressing',
      step: 'Analysis',
      message: `preview ${rc.preview} ready; analysing for ${a.window}${traffic}`,
    };
    ctx.requeueAfter(Math.min(windowLeftMs + 20, Math.max(50, deadlineMs - rc.nowMs)));
    return true;
  }
  const verdict = await analysePreview(
    a,
    ctx.ref.namespace,
    rc.names.gatewayPreview,
    ctx.deps.config.dependencyTimeoutMs,
  );
  if (verdict.result === 'Failed') return abortRollout(rc, `analysis failed: ${verdict.message}`);
  if (verdict.result === 'Inconclusive' && a.onInconclusive === 'Abort') {
    return abortRollout(rc, `analysis inconclusive: ${verdict.message}`);
  }
  rc.r.analysis = verdict.result;
  rc.r.analysisMessage = verdict.message;
  return false;
}
