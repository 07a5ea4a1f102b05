/**
 * Reads both colours; creates the first one for a new sale, or for a sale switched from Rolling (at the old
 * Deployment's size, which serves until the colour has Ready pods). The HPA targets the active colour.
 */
import { TEMPLATE_HASH_ANNOTATION } from '../../api/types.ts';
import { observeDeployment } from '../observeDeployment.ts';
import { fullyAvailable } from './fullyAvailable.ts';
import type { RolloutContext } from './rolloutContext.ts';

export async function ensureFirstColour(rc: RolloutContext): Promise<void> {
  const { ctx } = rc;
  rc.activeDep = await rc.getDeployment(rc.activeName);
  rc.previewDep = await rc.getDeployment(rc.previewName);
  rc.legacy = await rc.getDeployment(rc.names.gateway);
  ctx.gatewayScaleTarget = rc.activeName;
  if (!rc.activeDep) {
    const plan = ctx.plan;
    const start = rc.legacy?.spec?.replicas ?? (rc.autoscaled ? plan.gateway.min : (rc.fixedReplicas ?? 1));
    rc.activeDep = await rc.applyColour(rc.active, rc.fixedReplicas ?? Math.max(1, start));
    if (rc.autoscaled) {
      // created at the old count, then the count is handed to the HPA (never defaulted to 1 pod mid-sale)
      await rc.setReplicas(rc.activeName, Math.max(1, start));
      rc.activeDep = await rc.applyColour(rc.active, undefined);
    }
    rc.r = {
      activeColour: rc.active,
      previewColour: rc.preview,
      activeHash: rc.hash,
      phase: 'Promoted',
      step: 'Done',
    };
  }
  rc.activeReady = fullyAvailable(rc.activeDep).ok || (rc.activeDep.status?.readyReplicas ?? 0) > 0;
  ctx.observed.gateway = observeDeployment(rc.activeDep);
}

/** The template the active colour runs (its hash annotation). */
export const activeHashOf = (rc: RolloutContext) => rc.activeDep?.metadata?.annotations?.[TEMPLATE_HASH_ANNOTATION];
