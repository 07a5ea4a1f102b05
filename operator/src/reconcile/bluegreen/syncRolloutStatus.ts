/**
 * The one exit of every blue-green reconcile (Argo's syncRolloutStatusBlueGreen): the two gateway Services as the
 * new status says (which colour is active, whether a preview shares live traffic), the Rolling strategy's Deployment
 * removed once the active colour serves, and `status.rollout` handed to the status writer.
 */
import { activeSelection, buildActiveService, buildPreviewService } from '../../builders/buildBlueGreen.ts';
import { ensureAbsent, ensureApplied } from '../ensure.ts';
import { APPS, type RolloutContext } from './rolloutContext.ts';

/** The sale's Service and the preview Service for the status as it stands (also called before a scale-down). */
export async function reconcileServices(rc: RolloutContext): Promise<void> {
  const { ctx } = rc;
  const legacyServing = rc.legacy !== null && !rc.activeReady;
  const selected = activeSelection(rc.r, { legacyServing, analysis: rc.strategy.analysis });
  await ensureApplied(ctx, buildActiveService(ctx.ref, ctx.spec, selected));
  await ensureApplied(ctx, buildPreviewService(ctx.ref, ctx.spec, rc.r.previewColour));
}

export async function syncRolloutStatus(rc: RolloutContext): Promise<void> {
  await reconcileServices(rc);
  // migrating from Rolling: the old Deployment goes once the Service selects a colour with Ready pods
  if (rc.legacy && rc.activeReady) await ensureAbsent(rc.ctx, APPS, 'Deployment', rc.names.gateway);
  rc.ctx.observed.rollout = rc.r;
}
