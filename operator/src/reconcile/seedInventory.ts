/**
 * Redis inventory: every item seeded exactly once over its `stockBuckets` K; a changed quantity becomes a restock or
 * reduction delta spread over the buckets (sold and held units are never overwritten, not on restart, not on
 * re-apply). A refused seed (Redis holds the item with another K, or a bucketed item's reduction beyond its unsold
 * units) leaves the item as it is and is reported in InventorySeeded (reason StockBucketsChangeRefused or
 * ReductionRefused, the item named) and in Ready/Degraded, with no retry storm (the spec must change). Then
 * the audit read gives the status its per-item remaining (summed over buckets) and sold.
 */
import { isRefused } from '@flashsale/common';
import { REASONS } from '../api/types.ts';
import { readInventory, seedInventoryItems } from '../external/redisSide.ts';
import { errorMessage } from '../kube/client.ts';
import type { ReconcileContext } from './context.ts';

export async function seedInventory(ctx: ReconcileContext): Promise<void> {
  const sale = ctx.ref.name;
  try {
    const r = ctx.deps.redis.get(ctx.spec.redis, ctx.credentials.redis);
    const results = await seedInventoryItems(r, sale, ctx.spec.items);
    const refused = results.filter(isRefused);
    let last: string | undefined;
    for (const x of results) {
      if (isRefused(x)) continue;
      if (x.outcome === 'unchanged') continue;
      const over = x.buckets > 1 ? ` over ${x.buckets} buckets` : '';
      const what =
        x.outcome === 'seeded'
          ? `seeded ${x.id} with ${x.initial}${over}`
          : `${x.outcome} ${x.id} by ${Math.abs(x.applied)}${over} (total ${x.initial}, remaining ${x.remaining})`;
      ctx.event('Normal', x.outcome === 'seeded' ? 'InventorySeeded' : 'InventoryChanged', what);
      ctx.log.info({ event: 'inventory_seed', item: x.id, ...x }, what);
      last = x.outcome;
    }
    ctx.observed.inventory = await readInventory(
      r,
      sale,
      ctx.spec.items.map((i) => i.id),
    );
    if (refused.length > 0) {
      const msg = refused.map((x) => x.message).join('; ');
      const reason = refused.some((x) => x.reason === 'k_mismatch')
        ? REASONS.StockBucketsChangeRefused
        : REASONS.ReductionRefused;
      const prev = ctx.conditions.find((c) => c.type === 'InventorySeeded');
      // one Warning per new refusal, not one per reconcile
      if (prev?.reason !== reason || prev.message !== msg) ctx.event('Warning', reason, msg);
      ctx.log.warn({ event: 'inventory_seed_refused', items: refused.map((x) => x.id) }, msg);
      ctx.observed.seedRefused = { reason, message: msg };
      ctx.condition('InventorySeeded', 'False', reason, msg);
      return;
    }
    const reason = last === 'restocked' ? REASONS.Restocked : last === 'reduced' ? REASONS.Reduced : REASONS.Seeded;
    ctx.condition('InventorySeeded', 'True', reason, `${ctx.spec.items.length} item(s) seeded in Redis`);
  } catch (e) {
    const msg = `Redis ${ctx.spec.redis.addr}: ${errorMessage(e)}`;
    ctx.observed.dependencyErrors.push(msg);
    ctx.condition('InventorySeeded', 'False', REASONS.RedisUnavailable, msg);
    ctx.event('Warning', REASONS.RedisUnavailable, msg);
  }
}
