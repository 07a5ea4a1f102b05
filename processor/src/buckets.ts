/**
 * Stock buckets per item (common/src/buckets.ts), as the processor sees them: K read once from the item's meta and
 * cached. K of a seeded item never changes (seedBuckets refuses it), so the cache is never stale; an item not seeded
 * yet is not cached (its orders are rejected as unknown_item by the plain reserve, and the next order looks again).
 */
import { bucketCountOf, itemKeys, type RedisClient } from '@flashsale/common';

export interface BucketCounts {
  /** K when known (cached), else undefined: no Redis call */
  peek(item: string): number | undefined;
  /** K of the item (1: a plain item, or not seeded yet) */
  get(item: string): Promise<number>;
}

export function createBucketCounts(redis: RedisClient, sale: string): BucketCounts {
  const known = new Map<string, number>();
  return {
    peek: (item) => known.get(item),
    async get(item) {
      const cached = known.get(item);
      if (cached !== undefined) return cached;
      const [initial, buckets] = await redis.hmget(itemKeys(sale, item).meta, 'initial', 'buckets');
      const k = bucketCountOf(buckets);
      if (initial !== null) known.set(item, k);
      return k;
    },
  };
}
