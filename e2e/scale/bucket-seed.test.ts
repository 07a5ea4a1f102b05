/**
 * seedBuckets, the one entry point for stock of any K, on the single Redis and on the Redis Cluster: a fresh split,
 * restock and reduction spread over the buckets while reserves run concurrently (books and buckets always meet: drift
 * 0, nothing oversold), a reduction the unsold units cannot cover is refused naming the item and the shortfall, a
 * different K is refused, and a seed operation left open by a crash is completed by the next call.
 */
import {
  auditBucketed,
  bucketLevels,
  createRedis,
  itemKeys,
  parseAddrList,
  type RedisClient,
  reserveBucketed,
  SeedRefusedError,
  seedBuckets,
  seedItem,
  settleBucketed,
  startBucket,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';

const BACKENDS = [
  { name: 'single', make: () => createRedis({ mode: 'single', nodes: parseAddrList(requireService('redis').addr) }) },
  {
    name: 'cluster',
    make: () => createRedis({ mode: 'cluster', nodes: parseAddrList(requireService('redisCluster').addrs) }),
  },
];

const order = (item: string, n: number | string, user = `u${n}`) => ({
  orderId: `${item}.o${n}`,
  itemId: item,
  userId: user,
  quantity: 1,
  correlationId: `c${n}`,
  requestId: `r${n}`,
});

describe.each(BACKENDS)('seedBuckets on $name Redis', ({ make }) => {
  const sale = uniqueSale('bseed');
  let r: RedisClient;
  beforeAll(async () => {
    r = make();
    await r.ping();
  });
  afterAll(() => r?.disconnect());

  it('splits a fresh item, answers unchanged, restocks and reduces over the buckets', async () => {
    const item = 'fresh';
    expect(await seedBuckets(r, sale, item, 10, 4, 3)).toMatchObject({ outcome: 'seeded', initial: 10, applied: 10 });
    expect(await bucketLevels(r, sale, item, 4)).toEqual([3, 3, 2, 2]);
    expect(await r.hget(itemKeys(sale, item).meta, 'buckets')).toBe('4');
    expect(await seedBuckets(r, sale, item, 10, 4, 5)).toMatchObject({ outcome: 'unchanged', remaining: 10 });
    expect(await r.hget(itemKeys(sale, item).meta, 'per_user_limit')).toBe('5');
    expect(await seedBuckets(r, sale, item, 17, 4, 5)).toMatchObject({
      outcome: 'restocked',
      initial: 17,
      remaining: 17,
      applied: 7,
    });
    expect(await bucketLevels(r, sale, item, 4)).toEqual([5, 5, 4, 3]);
    // empty one bucket through real reserves: a reduction takes the rest from the others, never below 0
    const home = Array.from({ length: 400 }, (_, n) => order(item, n)).filter((o) => startBucket(o.orderId, 4) === 0);
    for (const o of home.slice(0, 5)) expect((await reserveBucketed(r, sale, o, 60_000, 4)).bucket).toBe(0);
    expect(await bucketLevels(r, sale, item, 4)).toEqual([0, 5, 4, 3]);
    const held = 5;
    const res = await seedBuckets(r, sale, item, 17 - 6, 4, 5);
    expect(res).toMatchObject({ outcome: 'reduced', initial: 11, applied: -6, remaining: 11 - held });
    const levels = await bucketLevels(r, sale, item, 4);
    expect(levels.every((x) => x >= 0)).toBe(true);
    expect(await auditBucketed(r, sale, item, 4)).toMatchObject({ initial: 11, held, drift: 0 });
    const meta = await r.hgetall(itemKeys(sale, item).meta);
    expect(meta).toMatchObject({ restocked: '7', reduced: '6' });
    expect(meta.seed_op).toBeUndefined();
  });

  it('refuses a reduction the unsold units cannot cover, naming the item and the shortfall; nothing changes', async () => {
    const item = 'short';
    await seedBuckets(r, sale, item, 8, 4);
    const orders = Array.from({ length: 6 }, (_, i) => order(item, i));
    for (const o of orders) expect((await reserveBucketed(r, sale, o, 60_000, 4)).status).toBe('RESERVED');
    const before = await bucketLevels(r, sale, item, 4);
    const err = await seedBuckets(r, sale, item, 1, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SeedRefusedError);
    expect(err).toMatchObject({ item, reason: 'shortfall', shortfall: 5 });
    expect((err as Error).message).toMatch(
      /cannot reduce item "short" .* from 8 to 1 units: only 2 unsold .*short by 5/,
    );
    expect(await bucketLevels(r, sale, item, 4)).toEqual(before);
    expect(await auditBucketed(r, sale, item, 4)).toMatchObject({ initial: 8, remaining: 2, held: 6, drift: 0 });
    // exactly what is unsold can go
    expect(await seedBuckets(r, sale, item, 6, 4)).toMatchObject({ outcome: 'reduced', applied: -2, remaining: 0 });
    expect(await bucketLevels(r, sale, item, 4)).toEqual([0, 0, 0, 0]);
  });

  it('refuses a different K, in both directions, with a clear message', async () => {
    await seedBuckets(r, sale, 'k4', 20, 4);
    await expect(seedBuckets(r, sale, 'k4', 20, 16)).rejects.toThrow(
      /item "k4" .* seeded over 4 stock bucket\(s\), not 16: changing the bucket count of a live item is not supported/,
    );
    await expect(seedBuckets(r, sale, 'k4', 20, 1)).rejects.toMatchObject({ reason: 'k_mismatch' });
    await seedItem(r, sale, 'k1', 20);
    await expect(seedBuckets(r, sale, 'k1', 20, 4)).rejects.toThrow(/seeded over 1 stock bucket\(s\), not 4/);
    expect(await seedBuckets(r, sale, 'k1', 25, 1)).toMatchObject({ outcome: 'restocked', initial: 25 });
    expect(await bucketLevels(r, sale, 'k4', 4)).toEqual([5, 5, 5, 5]);
  });

  it('completes a seed operation a crash left open before applying the next one', async () => {
    const item = 'crashed';
    await seedBuckets(r, sale, item, 8, 4);
    // a restock to 16 booked in the home slot, then the crash: no units reached the buckets yet
    const { callScript } = await import('@flashsale/common');
    await callScript(
      r,
      'inventory_bucket_seed',
      [itemKeys(sale, item).meta],
      ['begin', 16, 4, 0, Date.now(), 'op1', 0],
    );
    expect(await auditBucketed(r, sale, item, 4)).toMatchObject({ initial: 16, remaining: 8, drift: 8 });
    // the next run (same spec) completes it: the units arrive once
    expect(await seedBuckets(r, sale, item, 16, 4)).toMatchObject({ outcome: 'unchanged', remaining: 16 });
    expect(await auditBucketed(r, sale, item, 4)).toMatchObject({ initial: 16, remaining: 16, drift: 0 });
    expect(await seedBuckets(r, sale, item, 16, 4)).toMatchObject({ outcome: 'unchanged', remaining: 16 });
  });

  it('restock and reduction under concurrent reserves and failed payments: books and buckets meet', async () => {
    const item = 'busy';
    const k = 4;
    await seedBuckets(r, sale, item, 100, k);
    const orders = Array.from({ length: 400 }, (_, i) => order(item, i));
    const seeds = (async () => {
      const out = [];
      for (const t of [140, 130, 160, 150]) {
        out.push(await seedBuckets(r, sale, item, t, k).catch((e: unknown) => e as Error));
        await new Promise((res) => setTimeout(res, 5));
      }
      return out;
    })();
    const reserves = Promise.all(
      orders.map(async (o, i) => {
        const res = await reserveBucketed(r, sale, o, 60_000, k);
        if (res.status === 'RESERVED' && i % 5 === 0) {
          await settleBucketed(r, sale, item, o.orderId, 'PAYMENT_FAILED', 'payment_failed', k);
        }
        return res;
      }),
    );
    const [results, seeded] = await Promise.all([reserves, seeds]);
    for (const s of seeded) {
      if (s instanceof Error) expect(s).toBeInstanceOf(SeedRefusedError);
    }
    const a = await auditBucketed(r, sale, item, k);
    const reserved = results.filter((x) => x.status === 'RESERVED').length;
    const failed = results.filter((x, i) => x.status === 'RESERVED' && i % 5 === 0).length;
    expect(a.drift).toBe(0);
    expect(a.held).toBe(reserved - failed);
    expect(a.held + a.remaining).toBe(a.initial);
    expect((await bucketLevels(r, sale, item, k)).every((x) => x >= 0)).toBe(true);
    expect(await r.hget(itemKeys(sale, item).meta, 'seed_op')).toBeNull();
  });
});
