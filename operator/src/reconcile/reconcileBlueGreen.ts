/**
 * Blue-green upgrades of the gateway (`upgradeStrategy.type: BlueGreen`), one step per reconcile, level-based: the
 * state is `status.rollout` plus the colour Deployments' template-hash annotations, so a restarted (or new) operator
 * continues where the last one stopped.
 *
 *   steady:   the active colour runs the desired template; the Service selects it; the HPA targets it.
 *   change:   the preview colour gets the new template at the active side's current replica count (kept in step with
 *             the HPA while the rollout runs) -> every pod Ready -> optional Prometheus analysis over the window
 *             (with `previewTraffic: Shared` the Service selects both colours meanwhile, so the preview serves a
 *             share of live orders) -> pause (autoPromote false / pause annotation) -> promote: replicas handed over
 *             to the HPA, the Service selector switched in one update, the HPA retargeted -> after
 *             scaleDownDelaySeconds the old colour goes to 0 replicas (kept for a fast rollback until the next
 *             upgrade).
 *   abort:    analysis failed, progress deadline passed, or the abort annotation: the Service selects the active
 *             colour alone, the preview goes to 0, Degraded=True reason RolloutAborted and a Warning event. The aborted
 *             template is not retried; a new spec (or the old one back) ends it.
 *
 * The steps, in order, are in ./bluegreen/ (Argo Rollouts' rollout/bluegreen.go shape): each returns "this reconcile
 * ends here" or "go on", and every end goes through syncRolloutStatus (the two Services, status.rollout).
 */
import { childNames } from '../api/types.ts';
import { analyseRollout } from './bluegreen/analyseRollout.ts';
import { ensureFirstColour } from './bluegreen/ensureFirstColour.ts';
import { pauseRollout } from './bluegreen/pauseRollout.ts';
import { reconcilePreview } from './bluegreen/reconcilePreview.ts';
import { reconcileSaleOver } from './bluegreen/reconcileSaleOver.ts';
import { reconcileSteady } from './bluegreen/reconcileSteady.ts';
import { rollbackAfterPromotion } from './bluegreen/rollbackAfterPromotion.ts';
import { APPS, RolloutContext } from './bluegreen/rolloutContext.ts';
import { holdAborted, startRollout } from './bluegreen/startRollout.ts';
import { switchActive } from './bluegreen/switchActive.ts';
import { syncRolloutStatus } from './bluegreen/syncRolloutStatus.ts';
import type { ReconcileContext } from './context.ts';
import { ensureAbsent } from './ensure.ts';

export { fullyAvailable } from './bluegreen/fullyAvailable.ts';

export async function reconcileGatewayBlueGreen(ctx: ReconcileContext, configHash: string): Promise<void> {
  const rc = new RolloutContext(ctx, configHash);
  await ensureFirstColour(rc);
  await rolloutBlueGreen(rc);
  await syncRolloutStatus(rc);
}

/** The steps; the first that ends the reconcile wins. */
async function rolloutBlueGreen(rc: RolloutContext): Promise<void> {
  if (await reconcileSaleOver(rc)) return;
  if (await rollbackAfterPromotion(rc)) return;
  // the active colour runs the desired template: scale-down of the old colour, nothing else
  if (await reconcileSteady(rc)) return;
  if (await holdAborted(rc)) return;
  if (await startRollout(rc)) return;
  if (await reconcilePreview(rc)) return;
  if (await analyseRollout(rc)) return;
  if (await pauseRollout(rc)) return;
  await switchActive(rc);
}

/** Rolling strategy after blue-green: the colour Deployments and the preview Service go once the gateway serves. */
export async function removeBlueGreen(ctx: ReconcileContext): Promise<void> {
  const names = childNames(ctx.ref.name);
  if (!ctx.observed.gateway?.available) return;
  await ensureAbsent(ctx, APPS, 'Deployment', names.gatewayColour('blue'));
  await ensureAbsent(ctx, APPS, 'Deployment', names.gatewayColour('green'));
  await ensureAbsent(ctx, 'v1', 'Service', names.gatewayPreview);
}
