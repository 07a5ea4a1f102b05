/**
 * Redis inventory: every item seeded exactly once; a changed quantity becomes a restock or reduction delta applied
 * by the seed script (sold and held units are never overwritten, not on restart, not on re-apply). Then the audit
 * read gives the status its per-item remaining and sold.
 */
import { REASONS } from '../api/types.ts';
import { readInventory, seedInventoryItems } from '../external/redisSide.ts';
import { errorMessage } from '../kube/client.ts';
import type { ReconcileContext } from './context.ts';

export async function seedInventory(ctx: ReconcileContext): Promise<void> {
  const sale = ctx.ref.name;
  try {
    const r = ctx.deps.redis.get(ctx.spec.redis, ctx.credentials.redis);
    const results = await seedInventoryItems(r, sale, ctx.spec.items);
    const changed = results.filter((x) => x.outcome !== 'unchanged');
    for (const x of changed) {
      const what =
        x.outcome === 'seeded'
          ? `seeded ${x.id} with ${x.initial}`
          : `${x.outcome} ${x.id} by ${Math.abs(x.applied)} (total ${x.initial}, remaining ${x.remaining})`;
      ctx.event('Normal', x.outcome === 'seeded' ? 'InventorySeeded' : 'InventoryChanged', what);
      ctx.log.info({ event: 'inventory_seed', item: x.id, ...x }, what);
    }
    ctx.observed.inventory = await readInventory(
      r,
      sale,
      ctx.spec.items.map((i) => i.id),
    );
    const last = changed.at(-1);
    const reason =
      last?.outcome === 'restocked'
        ? REASONS.Restocked
        : last?.outcome === 'reduced'
          ? REASONS.Reduced
          : REASONS.Seeded;
    ctx.condition('InventorySeeded', 'True', reason, `${ctx.spec.items.length} item(s) seeded in Redis`);
  } catch (e) {
    const msg = `Redis ${ctx.spec.redis.addr}: ${errorMessage(e)}`;
    ctx.observed.dependencyErrors.push(msg);
    ctx.condition('InventorySeeded', 'False', REASONS.RedisUnavailable, msg);
    ctx.event('Warning', REASONS.RedisUnavailable, msg);
  }
}
