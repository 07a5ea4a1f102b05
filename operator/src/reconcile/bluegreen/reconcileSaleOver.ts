/**
 * The sale is over: no rollouts. Both colours at 0 (the template is taken as is, no pods run it), or, in the
 * status-only stage, the active colour at one read-only pod (a plain rolling update of that Deployment).
 */
import { observeDeployment } from '../observeDeployment.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function reconcileSaleOver(rc: RolloutContext): Promise<boolean> {
  const { ctx } = rc;
  if (ctx.schedule.stage !== 'over' && ctx.schedule.stage !== 'statusOnly') return false;
  const replicas = rc.fixedReplicas ?? 0;
  rc.activeDep = await rc.applyColour(rc.active, replicas);
  if ((rc.previewDep?.spec?.replicas ?? 0) > 0) await rc.setReplicas(rc.previewName, 0);
  ctx.observed.gateway = observeDeployment(rc.activeDep);
  rc.r = {
    ...rc.r,
    activeHash: rc.hash,
    previewHash: undefined,
    phase: 'Promoted',
    step: 'Done',
    message:
      replicas > 0
        ? `sale over: the ${rc.active} colour serves order status read-only (${replicas} replica)`
        : 'sale over: both colours at 0 replicas',
  };
  return true;
}
