/** The workloads' own ServiceAccount (before the Deployments that name it) and their NetworkPolicies. */
import { buildNetworkPolicies, buildWorkloadServiceAccount } from '../builders/buildIsolation.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';

export async function reconcileIsolation(ctx: ReconcileContext): Promise<void> {
  await ensureApplied(ctx, buildWorkloadServiceAccount(ctx.ref));
  for (const np of buildNetworkPolicies(ctx.ref, ctx.spec)) await ensureApplied(ctx, np);
}
