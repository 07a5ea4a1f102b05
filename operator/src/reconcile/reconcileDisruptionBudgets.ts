/** PodDisruptionBudgets of gateway and processor. */
import { buildDisruptionBudgets } from '../builders/buildDisruptionBudgets.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';

export async function reconcileDisruptionBudgets(ctx: ReconcileContext): Promise<void> {
  for (const pdb of buildDisruptionBudgets(ctx.ref)) await ensureApplied(ctx, pdb);
}
