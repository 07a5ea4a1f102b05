/** The processor Deployment (rolling updates only); replicas only when no autoscaler owns them. */
import type { V1Deployment } from '@kubernetes/client-node';
import { buildProcessorDeployment } from '../builders/buildDeployments.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';
import { observeDeployment } from './observeDeployment.ts';

export async function reconcileProcessorDeployment(ctx: ReconcileContext, configHash: string): Promise<void> {
  const desired = buildProcessorDeployment({
    sale: ctx.ref,
    spec: ctx.spec,
    defaults: ctx.deps.config.workloads,
    replicas: ctx.plan.autoscaled ? undefined : ctx.plan.processor.replicas,
    configHash,
  });
  const d = (await ensureApplied(ctx, desired)) as unknown as V1Deployment;
  ctx.observed.processor = observeDeployment(d);
}
