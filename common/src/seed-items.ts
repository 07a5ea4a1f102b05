/**
 * Seeding a sale's items from its spec, shared by the operator's reconcile and `flashsale up`: every item goes through
 * `seedBuckets` with its `stockBuckets` K (K = 1 is the plain seed), so a first seed, a restock and a reduction are
 * the same call on every run. What seedBuckets refuses (SeedRefusedError: the item is seeded with another K, or a
 * reduction the unsold units cannot cover) leaves the item as it was and comes back `refused` with a message naming
 * the item and the field: the callers report it (a condition, an exit code) instead of failing the whole sale. The
 * API server refuses the K change of a live FlashSale (CEL); this covers what it cannot see (a sale deleted with
 * `deletionPolicy: Retain` and created again, a local `flashsale up` run).
 */
import { auditBucketed, bucketCount, SeedRefusedError, seedBuckets } from './buckets.ts';
import type { ItemAudit, SeedResult } from './inventory.ts';
import type { RedisClient } from './redis.ts';

export interface ItemSeedSpec {
  id: string;
  quantity: number;
  perUserLimit: number;
  stockBuckets: number;
}

export type ItemSeedOutcome =
  | ({ id: string; buckets: number } & SeedResult)
  | {
      id: string;
      outcome: 'refused';
      /** k_mismatch: Redis holds the item with another bucket count; shortfall: a reduction beyond the unsold units */
      reason: 'k_mismatch' | 'shortfall';
      buckets: number;
      message: string;
    };

export const isRefused = (x: ItemSeedOutcome): x is Extract<ItemSeedOutcome, { outcome: 'refused' }> =>
  x.outcome === 'refused';

/** Seed one item over its buckets; refused (left as it was) when seedBuckets refuses it. */
export async function seedSpecItem(r: RedisClient, sale: string, it: ItemSeedSpec): Promise<ItemSeedOutcome> {
  const k = it.stockBuckets;
  let res: SeedResult;
  try {
    res = await seedBuckets(r, sale, it.id, it.quantity, k, it.perUserLimit);
  } catch (e) {
    if (!(e instanceof SeedRefusedError)) throw e;
    const field = e.reason === 'shortfall' ? 'quantity' : 'stockBuckets';
    return {
      id: it.id,
      outcome: 'refused',
      reason: e.reason,
      buckets: await bucketCount(r, sale, it.id),
      message: `spec.items[${it.id}].${field}: ${e.message}`,
    };
  }
  return { id: it.id, buckets: k, ...res };
}

/** Seed every item of a sale (in spec order; one refused item does not stop the others). */
export async function seedSpecItems(r: RedisClient, sale: string, items: ItemSeedSpec[]): Promise<ItemSeedOutcome[]> {
  const out: ItemSeedOutcome[] = [];
  for (const it of items) out.push(await seedSpecItem(r, sale, it));
  return out;
}

/** The audit of the given items, each over the buckets Redis holds it in (remaining summed over buckets). */
export async function auditItemsOverBuckets(r: RedisClient, sale: string, ids: string[]): Promise<ItemAudit[]> {
  return Promise.all(ids.map(async (id) => auditBucketed(r, sale, id, await bucketCount(r, sale, id))));
}
