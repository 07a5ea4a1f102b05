/**
 * Small KEDA-like helpers every step uses: ensure an object is applied as desired (server-side apply with the
 * operator's field manager, Events on create and change) or ensure it is absent.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ReconcileContext } from './context.ts';

export async function ensureApplied<T extends KubernetesObject>(ctx: ReconcileContext, desired: T): Promise<T> {
  const { kind, metadata } = desired;
  const name = metadata?.name ?? '';
  const before = await ctx.deps.kube.get(desired.apiVersion ?? '', kind ?? '', ctx.ref.namespace, name);
  const after = await ctx.deps.kube.apply(desired);
  if (!before) {
    ctx.event('Normal', 'Created', `Created ${kind} ${name}`);
    ctx.log.info({ event: 'child_created', kind, name }, 'created');
  } else if (
    before.metadata?.generation !== undefined &&
    after.metadata?.generation !== undefined &&
    before.metadata.generation !== after.metadata.generation
  ) {
    ctx.event('Normal', 'Updated', `Updated ${kind} ${name}`);
    ctx.log.info({ event: 'child_updated', kind, name }, 'updated');
  }
  return after;
}

export async function ensureAbsent(
  ctx: ReconcileContext,
  apiVersion: string,
  kind: string,
  name: string,
): Promise<void> {
  if (await ctx.deps.kube.deleteIfExists(apiVersion, kind, ctx.ref.namespace, name)) {
    ctx.event('Normal', 'Deleted', `Deleted ${kind} ${name}`);
    ctx.log.info({ event: 'child_deleted', kind, name }, 'deleted');
  }
}
