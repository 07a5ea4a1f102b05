/**
 * Promote: the preview's replica count handed to the HPA (through the hand-over manager), the old colour's pinned,
 * then (in syncRolloutStatus) one selector update of the sale's Service; the HPA is retargeted and the old colour
 * waits `scaleDownDelaySeconds` for scaleDownOldColour.
 */
import { REASONS } from '../../api/types.ts';
import { observeDeployment } from '../observeDeployment.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function switchActive(rc: RolloutContext): Promise<true> {
  const { ctx, active, preview } = rc;
  let previewDep = rc.previewDep;
  if (!previewDep) throw new Error(`${rc.previewName} vanished before its promotion`);
  const count = previewDep.spec?.replicas ?? 1;
  if (rc.autoscaled) {
    await rc.setReplicas(rc.previewName, count);
    previewDep = await rc.applyColour(preview, undefined);
    // the old colour leaves the HPA: pin its count (operator-owned) until the scale-down
    await rc.setReplicas(rc.activeName, rc.activeDep?.spec?.replicas ?? count);
  }
  rc.previewDep = previewDep;
  ctx.gatewayScaleTarget = rc.previewName;
  ctx.observed.gateway = observeDeployment(previewDep);
  const delay = rc.strategy.scaleDownDelaySeconds;
  const scaleDownAt = new Date(rc.nowMs + delay * 1000).toISOString();
  rc.r = {
    activeColour: preview,
    previewColour: active,
    activeHash: rc.hash,
    phase: 'Promoted',
    step: 'ScaleDown',
    startedAt: rc.r.startedAt,
    promotedAt: rc.nowIso,
    scaleDownAt,
    analysis: rc.r.analysis,
    analysisMessage: rc.r.analysisMessage,
    message: `${preview} promoted (${count} pods); ${active} goes to 0 at ${scaleDownAt}`,
    ...rc.seen,
  };
  ctx.event(
    'Normal',
    REASONS.Promoted,
    `Promoted ${preview} (template ${rc.hash}); ${active} kept until ${scaleDownAt}`,
  );
  ctx.requeueAfter(delay * 1000 + 20);
  return true;
}
