/** The sale's ConfigMap; its hash goes on the pod templates so a change rolls the pods. */
import { buildConfigMap, configHash } from '../builders/buildConfigMap.ts';
import type { ReconcileContext } from './context.ts';
import { ensureApplied } from './ensure.ts';

export async function reconcileConfigMap(ctx: ReconcileContext): Promise<string> {
  const cm = buildConfigMap(ctx.ref, ctx.spec);
  await ensureApplied(ctx, cm);
  return configHash({ data: cm.data, creds: [ctx.spec.redis.passwordSecretRef, ctx.spec.kafka.sasl] });
}
