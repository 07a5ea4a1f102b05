/**
 * Write the status once per reconcile, and only when it changed (merge-patch on /status; keys that disappeared, at
 * any depth, are sent as null so the merge removes them).
 */
import { isDeepStrictEqual } from 'node:util';
import { SALE_PHASES } from '@flashsale/common';
import type { FlashSaleObject, FlashSaleStatus } from '../api/types.ts';
import type { Deps, Observed } from './context.ts';

export async function writeStatus(deps: Deps, sale: FlashSaleObject, next: FlashSaleStatus): Promise<boolean> {
  const prev = (sale.status ?? {}) as Record<string, unknown>;
  const clean = JSON.parse(JSON.stringify(next)) as Record<string, unknown>;
  recordMetrics(deps, sale, next);
  if (isDeepStrictEqual(prev, clean)) return false;
  const body = mergePatch(prev, clean);
  await deps.kube.patchFlashSaleStatus(sale.metadata.namespace, sale.metadata.name, body as FlashSaleStatus);
  return true;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The JSON merge patch (RFC 7386) from `prev` to `next`: a merge patch merges objects at every depth, so a key gone
 * from a nested object (a field of status.rollout left behind by the last rollout, e.g. its analysis verdict) must be
 * sent as null there too, or the server keeps it. Arrays are replaced whole.
 */
export function mergePatch(prev: Record<string, unknown>, next: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = { ...next };
  for (const [k, old] of Object.entries(prev)) {
    if (!(k in next)) body[k] = null;
    else if (isObject(old) && isObject(next[k])) body[k] = mergePatch(old, next[k] as Record<string, unknown>);
  }
  return body;
}

function recordMetrics(deps: Deps, sale: FlashSaleObject, s: FlashSaleStatus) {
  const { namespace, name } = sale.metadata;
  for (const phase of SALE_PHASES) deps.metrics.salePhase.set({ namespace, name, phase }, s.phase === phase ? 1 : 0);
  for (const it of s.items ?? []) {
    deps.metrics.saleSold.set({ namespace, name, item_id: it.id }, it.sold);
    deps.metrics.saleRemaining.set({ namespace, name, item_id: it.id }, it.remaining);
  }
}

/** The replicas the reconcile observed: desired (spec.replicas, set by the autoscaler when one owns it) and ready. */
export function recordReplicas(deps: Deps, sale: FlashSaleObject, observed: Observed): void {
  const { namespace, name } = sale.metadata;
  for (const [component, d] of [
    ['gateway', observed.gateway],
    ['processor', observed.processor],
  ] as const) {
    if (!d) continue;
    deps.metrics.saleReplicas.set({ namespace, sale: name, component, state: 'desired' }, d.desired);
    deps.metrics.saleReplicas.set({ namespace, sale: name, component, state: 'ready' }, d.ready);
  }
}

export async function forgetSaleMetrics(deps: Deps, namespace: string, name: string): Promise<void> {
  deps.metrics.saleConsumerLag.remove({ namespace, sale: name });
  for (const component of ['gateway', 'processor'])
    for (const state of ['desired', 'ready'])
      deps.metrics.saleReplicas.remove({ namespace, sale: name, component, state });
  for (const g of [deps.metrics.salePhase, deps.metrics.saleSold, deps.metrics.saleRemaining]) {
    const m = await g.get();
    for (const v of m.values) {
      if (v.labels.namespace === namespace && v.labels.name === name) g.remove(v.labels as never);
    }
  }
}
