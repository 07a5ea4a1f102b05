/**
 * Hot-item stock buckets: one item's stock split into K buckets whose keys carry different hash tags, so its takes
 * spread over K Redis Cluster slots (and so shards). K = 1 is the plain item: every function here delegates to the
 * inventory scripts of common/src/inventory.ts unchanged.
 *
 * For K > 1 a reserve is three replay-safe steps (each one atomic in its own slot):
 * 1. claim (home slot): dedupe on the order record and the per-user limit, which cannot be split over slots; the
 *    order becomes CLAIMING with the user's units counted;
 * 2. take (bucket slots): from bucket `hash(order id) mod K` on, the first bucket with enough units gives them and
 *    records the order in its `takes` hash; a take for an order already recorded returns the same units;
 * 3. commit (home slot): CLAIMING -> RESERVED with the bucket recorded and the hold added, or SOLD_OUT when every
 *    bucket was empty (the user's units are given back).
 * A crash between the steps leaves the order CLAIMING; the next delivery resumes it and first looks for an earlier
 * take in every bucket, so a unit is never taken twice. Release/expire settle the home slot first and then give the
 * units back to the recorded bucket, guarded by the take marker (a second give-back changes nothing).
 * Quantities are taken from one bucket (an order is not split over buckets).
 */
import { createHash } from 'node:crypto';
import { auditItem, confirm, type ItemAudit, type ReserveInput, release, reserve, seedItem } from './inventory.ts';
import { bucketKeys, channels, itemKeys } from './keys.ts';
import type { OrderStatus } from './order.ts';
import { ORDER_RECORD_TTL_SECONDS } from './order.ts';
import type { RedisClient } from './redis.ts';
import { callScript } from './scripts.ts';

/** Buckets an item was seeded with (meta field `buckets`; absent: 1). */
export async function bucketCount(r: RedisClient, sale: string, item: string): Promise<number> {
  const k = Number(await r.hget(itemKeys(sale, item).meta, 'buckets'));
  return Number.isInteger(k) && k > 1 ? k : 1;
}

/** The first bucket an order tries: a stable hash of the order id. */
export function startBucket(orderId: string, k: number): number {
  if (k <= 1) return 0;
  return createHash('sha1').update(orderId).digest().readUInt32BE(0) % k;
}

/** Split `total` into `k` shares that differ by at most 1. */
export function shares(total: number, k: number): number[] {
  const base = Math.floor(total / k);
  return Array.from({ length: k }, (_, b) => base + (b < total % k ? 1 : 0));
}

/**
 * Seed an item with `total` units over `k` buckets (k = 1: seedItem). The home bucket is seeded through
 * inventory_seed (meta initial = total), then the other buckets' shares are moved out of it. Only for a fresh item:
 * restocks of a bucketed item go through `restockBuckets`.
 */
export async function seedBuckets(
  r: RedisClient,
  sale: string,
  item: string,
  total: number,
  k: number,
  perUserLimit = 0,
): Promise<void> {
  const res = await seedItem(r, sale, item, total, perUserLimit);
  if (k <= 1 || res.outcome !== 'seeded') return;
  const parts = shares(total, k);
  const home = itemKeys(sale, item);
  await r.hset(home.meta, 'buckets', String(k));
  for (let b = 1; b < k; b++) {
    if (parts[b] === 0) continue;
    await r.decrby(home.stock, parts[b]!);
    await r.incrby(bucketKeys(sale, item, b).stock, parts[b]!);
  }
}

export interface BucketReserveResult {
  status: OrderStatus | 'CLAIMING';
  reason: string;
  /** bucket the units came from (-1: none) */
  bucket: number;
  replayed: boolean;
}

const take = async (
  r: RedisClient,
  sale: string,
  item: string,
  b: number,
  orderId: string,
  qty: number,
  mode: string,
) => {
  const bk = bucketKeys(sale, item, b);
  const t = (await callScript(
    r,
    'inventory_bucket_take',
    [bk.stock, bk.takes],
    [orderId, qty, mode, ORDER_RECORD_TTL_SECONDS],
  )) as [number, number];
  return { units: Number(t[0]), remaining: Number(t[1]) };
};

/** Reserve over the item's buckets (K = 1: the plain reserve script). */
export async function reserveBucketed(
  r: RedisClient,
  sale: string,
  o: ReserveInput,
  holdTtlMs: number,
  k: number,
  now = Date.now(),
): Promise<BucketReserveResult> {
  if (k <= 1) {
    const res = await reserve(r, sale, o, holdTtlMs, now);
    return {
      status: res.status,
      reason: res.reason,
      bucket: res.status === 'RESERVED' ? 0 : -1,
      replayed: res.replayed,
    };
  }
  const home = itemKeys(sale, o.itemId);
  const ch = channels(sale);
  const claim = (await callScript(
    r,
    'inventory_bucket_claim',
    [home.meta, home.order(o.orderId), home.user(o.userId)],
    [o.orderId, o.userId, o.quantity, now, o.correlationId, o.requestId, o.itemId, ch.status, ORDER_RECORD_TTL_SECONDS],
  )) as [OrderStatus | 'CLAIMING', string, number, number];
  if (claim[0] !== 'CLAIMING')
    return { status: claim[0], reason: claim[1], bucket: -1, replayed: Number(claim[2]) === 1 };
  const first = startBucket(o.orderId, k);
  const order = Array.from({ length: k }, (_, i) => (first + i) % k);
  let bucket = -1;
  if (Number(claim[3]) === 1) {
    // resumed after a crash: an earlier attempt may have taken units already
    for (const b of order) {
      if ((await take(r, sale, o.itemId, b, o.orderId, o.quantity, 'peek')).units > 0) {
        bucket = b;
        break;
      }
    }
  }
  for (const b of bucket >= 0 ? [] : order) {
    if ((await take(r, sale, o.itemId, b, o.orderId, o.quantity, 'take')).units > 0) {
      bucket = b;
      break;
    }
  }
  const c = (await callScript(
    r,
    'inventory_bucket_commit',
    [home.meta, home.holds, home.order(o.orderId), home.user(o.userId)],
    [o.orderId, bucket, now, holdTtlMs, o.itemId, ch.status],
  )) as [OrderStatus, string, string, number];
  if (c[0] === 'SOLD_OUT') await publishIfSoldOut(r, sale, o.itemId, k);
  return { status: c[0], reason: c[1], bucket, replayed: Number(c[3]) === 1 };
}

/** Remaining units per bucket. */
export async function bucketLevels(r: RedisClient, sale: string, item: string, k: number): Promise<number[]> {
  const v = await Promise.all(Array.from({ length: k }, (_, b) => r.get(bucketKeys(sale, item, b).stock)));
  return v.map((x) => Number(x ?? 0));
}

/** Sold out only when every bucket is empty: publish the sold-out event then (the gateway's flag follows it). */
async function publishIfSoldOut(r: RedisClient, sale: string, item: string, k: number): Promise<boolean> {
  const levels = await bucketLevels(r, sale, item, k);
  if (levels.some((x) => x > 0)) return false;
  await r.publish(channels(sale).stock, JSON.stringify({ event: 'sold_out', item_id: item, remaining: 0 }));
  return true;
}

/**
 * Settle a bucketed hold (K = 1: confirm / release). CONFIRMED keeps the units taken; PAYMENT_FAILED / EXPIRED give
 * them back to their bucket (also on a replay, so a crash between the two steps is repaired by the retry).
 */
export async function settleBucketed(
  r: RedisClient,
  sale: string,
  item: string,
  orderId: string,
  final: 'CONFIRMED' | 'PAYMENT_FAILED' | 'EXPIRED',
  reason: string,
  k: number,
  now = Date.now(),
): Promise<{ status: string; outcome: string; units: number }> {
  if (k <= 1) {
    if (final === 'CONFIRMED') return confirm(r, sale, item, orderId, now);
    return release(r, sale, item, orderId, final, reason, now);
  }
  const home = itemKeys(sale, item);
  const rec = await r.hget(home.order(orderId), 'user_id');
  const s = (await callScript(
    r,
    'inventory_bucket_settle',
    [home.meta, home.holds, home.order(orderId), home.user(rec ?? '')],
    [orderId, final, reason, now, item, channels(sale).status],
  )) as [string, string, number, number];
  const bucket = Number(s[3]);
  let units = Number(s[2]);
  if (final !== 'CONFIRMED' && (s[1] === 'settled' || s[1] === 'replay') && bucket >= 0) {
    const bk = bucketKeys(sale, item, bucket);
    const g = (await callScript(r, 'inventory_bucket_give', [bk.stock, bk.takes], [orderId])) as [number, number];
    units = Number(g[0]);
    if (units > 0 && Number(g[1]) === units) {
      await r.publish(channels(sale).stock, JSON.stringify({ event: 'restocked', item_id: item, remaining: units }));
    }
  }
  return { status: s[0], outcome: s[1], units };
}

/** The audit of a bucketed item: remaining is the sum over the buckets; drift must be 0 once the sale settles. */
export async function auditBucketed(r: RedisClient, sale: string, item: string, k: number): Promise<ItemAudit> {
  const a = await auditItem(r, sale, item);
  if (k <= 1) return a;
  const levels = await bucketLevels(r, sale, item, k);
  const remaining = levels.reduce((n, x) => n + x, 0);
  return { ...a, remaining, drift: a.initial - remaining - a.confirmed - a.held };
}
