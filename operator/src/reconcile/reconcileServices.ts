/** The gateway Service and the processor metrics Service. */
import { buildGatewayService, buildProcessorMetricsService } from '../builders/buildServices.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';

export async function reconcileServices(ctx: ReconcileContext): Promise<void> {
  // blue-green: the gateway Services are the rollout's (reconcileBlueGreen.ts)
  if (ctx.spec.upgradeStrategy.type !== 'BlueGreen') await ensureApplied(ctx, buildGatewayService(ctx.ref, ctx.spec));
  await ensureApplied(ctx, buildProcessorMetricsService(ctx.ref));
}
