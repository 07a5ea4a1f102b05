/**
 * Rollback: an abort requested after a promotion, while the old colour still has all its pods (the scale-down
 * delay). The old colour takes the HPA's count back and becomes active again; the aborted template is not retried.
 */
import { REASONS, TEMPLATE_HASH_ANNOTATION } from '../../api/types.ts';
import { observeDeployment } from '../observeDeployment.ts';
import { activeHashOf } from './ensureFirstColour.ts';
import { fullyAvailable } from './fullyAvailable.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function rollbackAfterPromotion(rc: RolloutContext): Promise<boolean> {
  const { ctx, previewDep } = rc;
  const oldHash = previewDep?.metadata?.annotations?.[TEMPLATE_HASH_ANNOTATION];
  const promotedCurrent = activeHashOf(rc) === rc.hash && rc.prev.step === 'ScaleDown';
  if (!promotedCurrent || !rc.abortRequested || !oldHash || !previewDep || !fullyAvailable(previewDep).ok) return false;
  const count = previewDep.spec?.replicas ?? 1;
  if (rc.autoscaled) await rc.setReplicas(rc.previewName, count);
  ctx.gatewayScaleTarget = rc.previewName;
  // the colour leaving the HPA keeps its count (operator-owned) until a later scale-down
  if (rc.autoscaled) await rc.setReplicas(rc.activeName, rc.activeDep?.spec?.replicas ?? count);
  ctx.observed.gateway = observeDeployment(previewDep);
  const why = 'abort requested after the promotion (flashsale.dev/abort)';
  rc.r = {
    activeColour: rc.preview,
    previewColour: rc.active,
    activeHash: oldHash,
    abortedHash: rc.hash,
    phase: 'Aborted',
    step: 'Aborted',
    message: `rolled back: ${why}; traffic back on ${rc.preview}`,
    ...rc.seen,
  };
  ctx.event('Warning', REASONS.RolloutAborted, `Rolled back to ${rc.preview}: ${why}`);
  return true;
}
