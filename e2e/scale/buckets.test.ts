/**
 * Hot-item stock buckets on the real Redis Cluster (common/src/buckets.ts): one item's stock over K = 1, 4, 16
 * buckets in different slots. Many concurrent clients never oversell and never strand stock (nothing is sold out while
 * a bucket still holds units once the sale settles); released units are resold; replays change nothing; the per-user
 * limit holds; a reserve interrupted between its steps resumes without taking twice.
 */
import {
  auditBucketed,
  bucketKeys,
  bucketLevels,
  callScript,
  claimBucketed,
  commitBucketed,
  createRedis,
  itemKeys,
  ORDER_RECORD_TTL_SECONDS,
  parseAddrList,
  type RedisClient,
  reserveBucketed,
  seedBuckets,
  settleBucketed,
  startBucket,
  takeBucketed,
} from '@flashsale/common';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reserveInput } from '../../processor/test/support.ts';
import { uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';

const sale = uniqueSale('bkt');
const clients: RedisClient[] = [];
let r: RedisClient;

beforeAll(async () => {
  const { addrs } = requireService('redisCluster');
  const make = () => createRedis({ mode: 'cluster', nodes: parseAddrList(addrs) });
  r = make();
  for (let i = 0; i < 6; i++) clients.push(make());
  await r.ping();
});
afterAll(() => {
  for (const c of [r, ...clients]) c?.disconnect();
});

describe.each([1, 4, 16])('K = %i buckets on Redis Cluster', (k) => {
  it('never oversells, never strands stock, resells released units exactly once', async () => {
    const item = `hot${k}`;
    const N = 200;
    await seedBuckets(r, sale, item, N, k);
    if (k > 1) {
      // K different hash tags; their slots are CRC16 of the tags, so a few may share a slot by chance, but they
      // spread over more than one slot (and so over the shards)
      const tags = new Set(Array.from({ length: k }, (_, b) => /\{[^}]+\}/.exec(bucketKeys(sale, item, b).stock)?.[0]));
      expect(tags.size).toBe(k);
      const slots = new Set(
        await Promise.all(
          Array.from({ length: k }, (_, b) => (r as Cluster).cluster('KEYSLOT', bucketKeys(sale, item, b).stock)),
        ),
      );
      expect(slots.size).toBeGreaterThan(1);
    }
    expect((await bucketLevels(r, sale, item, k)).reduce((a, b) => a + b, 0)).toBe(N);

    const wave1 = Array.from({ length: 900 }, (_, i) => reserveInput(item, i, `u${i}`));
    const res1 = await Promise.all(
      wave1.map((o, i) => reserveBucketed(clients[i % clients.length]!, sale, o, 60_000, k)),
    );
    const reserved = wave1.filter((_, i) => res1[i]!.status === 'RESERVED');
    expect(reserved).toHaveLength(N);
    expect(res1.filter((x) => x.status === 'SOLD_OUT')).toHaveLength(900 - N);
    expect(await bucketLevels(r, sale, item, k)).toEqual(Array(k).fill(0));
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 0, held: N, drift: 0 });
    // replays change nothing
    const again = await Promise.all(wave1.slice(0, 50).map((o) => reserveBucketed(r, sale, o, 60_000, k)));
    expect(again.every((x, i) => x.replayed && x.status === res1[i]!.status)).toBe(true);

    // confirm half, fail the other half (each release sent twice, concurrently): units return exactly once
    const failed = reserved.filter((_, i) => i % 2 === 1);
    await Promise.all(
      reserved.flatMap((o, i) =>
        i % 2 === 0
          ? [settleBucketed(clients[i % 6]!, sale, item, o.orderId, 'CONFIRMED', '', k)]
          : [
              settleBucketed(clients[i % 6]!, sale, item, o.orderId, 'PAYMENT_FAILED', 'payment_failed', k),
              settleBucketed(clients[(i + 1) % 6]!, sale, item, o.orderId, 'PAYMENT_FAILED', 'payment_failed', k),
            ],
      ),
    );
    const a1 = await auditBucketed(r, sale, item, k);
    expect(a1).toMatchObject({ confirmed: N - failed.length, held: 0, remaining: failed.length, drift: 0 });

    // a second wave buys exactly the returned units, wherever they sit: nothing stranded
    const wave2 = Array.from({ length: 400 }, (_, i) => reserveInput(item, `w2-${i}`, `v${i}`));
    const res2 = await Promise.all(
      wave2.map((o, i) => reserveBucketed(clients[i % clients.length]!, sale, o, 60_000, k)),
    );
    expect(res2.filter((x) => x.status === 'RESERVED')).toHaveLength(failed.length);
    expect(await bucketLevels(r, sale, item, k)).toEqual(Array(k).fill(0));
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 0, held: failed.length, drift: 0 });
  });

  it('holds the per-user limit across buckets under concurrency', async () => {
    const item = `lim${k}`;
    await seedBuckets(r, sale, item, 100, k, 2);
    const mine = Array.from({ length: 24 }, (_, i) => reserveInput(item, `g${i}`, 'greedy'));
    const res = await Promise.all(mine.map((o, i) => reserveBucketed(clients[i % 6]!, sale, o, 60_000, k)));
    expect(res.filter((x) => x.status === 'RESERVED')).toHaveLength(2);
    expect(res.filter((x) => x.status === 'LIMIT_EXCEEDED')).toHaveLength(22);
    expect(await r.get(itemKeys(sale, item).user('greedy'))).toBe('2');
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 98, held: 2, drift: 0 });
  });
});

describe('a reserve interrupted between its steps (K = 4)', () => {
  it('resumes without taking a second unit', async () => {
    const item = 'crash4';
    const k = 4;
    await seedBuckets(r, sale, item, 8, k);
    const o = reserveInput(item, 'x', 'u-crash');
    const home = itemKeys(sale, item);
    // steps 1 and 2 of a first attempt, then the "crash": no commit
    await callScript(
      r,
      'inventory_bucket_claim',
      [home.meta, home.order(o.orderId), home.user(o.userId)],
      [o.orderId, o.userId, 1, Date.now(), 'c', 'r', item, `fs:${sale}:status-events`, ORDER_RECORD_TTL_SECONDS],
    );
    const b = startBucket(o.orderId, k);
    const bk = bucketKeys(sale, item, b);
    await callScript(r, 'inventory_bucket_take', [bk.stock, bk.takes], [o.orderId, 1, 'take', 3600]);
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 7, drift: 1 });
    // the redelivery resumes the claim and finds the earlier take
    const res = await reserveBucketed(r, sale, o, 60_000, k);
    expect(res).toMatchObject({ status: 'RESERVED', bucket: b, replayed: false });
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 7, held: 1, drift: 0 });
    expect(await r.get(home.user(o.userId))).toBe('1');
  });
});

describe('two deliveries of one order racing (K = 4)', () => {
  it('the one that commits second gives back the unit it took in another bucket', async () => {
    const item = 'dup4';
    const k = 4;
    await seedBuckets(r, sale, item, 4, k); // one unit per bucket
    // an order O and an order X that share O's start bucket s; X takes s's unit first
    const candidates = Array.from({ length: 400 }, (_, i) => reserveInput(item, `d${i}`, `ud${i}`));
    const o = candidates[0]!;
    const s = startBucket(o.orderId, k);
    const x = candidates.find((c) => c !== o && startBucket(c.orderId, k) === s)!;
    expect(await reserveBucketed(r, sale, x, 60_000, k)).toMatchObject({ status: 'RESERVED', bucket: s });
    expect((await claimBucketed(r, sale, o)).done).toBeUndefined();
    // delivery A finds s empty and takes from another bucket
    const a = await takeBucketed(r, sale, o, k, false);
    expect(a).not.toBe(s);
    // X's payment fails: its unit goes back to s; delivery B (whose look for earlier takes came before A's take)
    // takes that one
    await settleBucketed(r, sale, item, x.orderId, 'PAYMENT_FAILED', 'payment_failed', k);
    const b = await takeBucketed(r, sale, o, k, false);
    expect(b).toBe(s);
    expect(await commitBucketed(r, sale, o, k, a, 60_000)).toMatchObject({ status: 'RESERVED', bucket: a });
    expect(await commitBucketed(r, sale, o, k, b, 60_000)).toMatchObject({
      status: 'RESERVED',
      bucket: a,
      replayed: true,
    });
    // one unit held by O, X's unit back in s, nothing taken twice
    expect(await auditBucketed(r, sale, item, k)).toMatchObject({ remaining: 3, held: 1, released: 1, drift: 0 });
    expect((await bucketLevels(r, sale, item, k))[s]).toBe(1);
    expect(await r.hget(bucketKeys(sale, item, s).takes, o.orderId)).toBeNull();
  });
});
