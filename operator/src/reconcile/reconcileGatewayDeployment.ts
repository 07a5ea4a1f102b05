/** The gateway Deployment; replicas only when no autoscaler owns them. */
import type { V1Deployment } from '@kubernetes/client-node';
import { buildGatewayDeployment } from '../builders/buildDeployments.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';
import { observeDeployment } from './observeDeployment.ts';

export async function reconcileGatewayDeployment(ctx: ReconcileContext, configHash: string): Promise<void> {
  const desired = buildGatewayDeployment({
    sale: ctx.ref,
    spec: ctx.spec,
    defaults: ctx.deps.config.workloads,
    replicas: ctx.plan.autoscaled ? undefined : ctx.plan.gateway.replicas,
    configHash,
  });
  const d = (await ensureApplied(ctx, desired)) as unknown as V1Deployment;
  ctx.observed.gateway = observeDeployment(d);
}
