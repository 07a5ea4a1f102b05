/**
 * The gateway Deployment (Rolling strategy); replicas only when no autoscaler owns them. Created while blue-green
 * colour Deployments still serve (a switch back from BlueGreen), it starts at their size and hands that count to the
 * HPA, instead of starting at one pod in the middle of a sale.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { childNames, HANDOVER_FIELD_MANAGER } from '../api/types.ts';
import { replicasOnly } from '../builders/buildBlueGreen.ts';
import { buildGatewayDeployment } from '../builders/buildDeployments.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';
import { observeDeployment } from './observeDeployment.ts';

export async function reconcileGatewayDeployment(ctx: ReconcileContext, configHash: string): Promise<void> {
  const input = {
    sale: ctx.ref,
    spec: ctx.spec,
    defaults: ctx.deps.config.workloads,
    replicas: ctx.plan.autoscaled ? undefined : ctx.plan.gateway.replicas,
    configHash,
    readOnly: ctx.schedule.stage === 'statusOnly',
  };
  const names = childNames(ctx.ref.name);
  const kube = ctx.deps.kube;
  if (ctx.plan.autoscaled && !(await kube.get('apps/v1', 'Deployment', ctx.ref.namespace, names.gateway))) {
    let serving = 0;
    for (const c of ['blue', 'green'] as const) {
      const d = await kube.get<V1Deployment>('apps/v1', 'Deployment', ctx.ref.namespace, names.gatewayColour(c));
      serving = Math.max(serving, d?.spec?.replicas ?? 0);
    }
    if (serving > 0) {
      await ensureApplied(ctx, buildGatewayDeployment({ ...input, replicas: serving }));
      await kube.apply(replicasOnly(ctx.ref, names.gateway, serving), HANDOVER_FIELD_MANAGER);
    }
  }
  const d = (await ensureApplied(ctx, buildGatewayDeployment(input))) as unknown as V1Deployment;
  ctx.observed.gateway = observeDeployment(d);
}
