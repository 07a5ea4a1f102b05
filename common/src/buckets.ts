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
 * take in every bucket, so a unit is never taken twice. Release/expire settle the home slot first (recording the
 * give-back as pending in the item's `gives` hash) and then give the units back to the recorded bucket, guarded by the
 * take marker (a second give-back changes nothing); a give-back a crash left pending is completed by `completeGives`
 * (the processor's hold sweeper). Quantities are taken from one bucket (an order is not split over buckets).
 * Stock goes in through `seedBuckets` for any K: a fresh split, a restock or reduction spread over the buckets, a
 * change of K refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  auditItem,
  confirm,
  type ExpireResult,
  expireHolds,
  type ItemAudit,
  type ReserveInput,
  release,
  reserve,
  type SeedResult,
  seedItem,
} from './inventory.ts';
import { bucketKeys, channels, itemKeys, saleKeys } from './keys.ts';
import type { OrderStatus } from './order.ts';
import { ORDER_RECORD_TTL_SECONDS } from './order.ts';
import type { RedisClient } from './redis.ts';
import { callScript } from './scripts.ts';

/** Buckets an item was seeded with (meta field `buckets`; absent: 1). */
export async function bucketCount(r: RedisClient, sale: string, item: string): Promise<number> {
  return bucketCountOf(await r.hget(itemKeys(sale, item).meta, 'buckets'));
}

/** K from the meta field `buckets` as stored (absent or not an integer > 1: the plain item, 1). */
export function bucketCountOf(raw: string | null | undefined): number {
  const k = Number(raw ?? 1);
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

/** A seed, restock or reduction that seedBuckets refuses; nothing was changed. */
export class SeedRefusedError extends Error {
  readonly item: string;
  readonly reason: 'k_mismatch' | 'shortfall';
  /** units a reduction could not take (reason shortfall) */
  readonly shortfall: number;
  constructor(item: string, reason: 'k_mismatch' | 'shortfall', message: string, shortfall = 0) {
    super(message);
    this.name = 'SeedRefusedError';
    this.item = item;
    this.reason = reason;
    this.shortfall = shortfall;
  }
}

const kMismatch = (sale: string, item: string, have: number, wanted: number) =>
  new SeedRefusedError(
    item,
    'k_mismatch',
    `item "${item}" of sale "${sale}" is seeded over ${have} stock bucket(s), not ${wanted}: changing the bucket ` +
      'count of a live item is not supported (keep K, or sell under a new item id)',
  );

const shortfallError = (sale: string, item: string, from: number, to: number, unsold: number, k: number) =>
  new SeedRefusedError(
    item,
    'shortfall',
    `cannot reduce item "${item}" of sale "${sale}" from ${from} to ${to} units: only ${unsold} unsold unit(s) are ` +
      `left over its ${k} bucket(s), short by ${from - to - unsold} (sold and held units are never taken back)`,
    from - to - unsold,
  );

/** Move units into (> 0) or out of (< 0, never below 0) one bucket for seed operation `marker`, once. */
async function adjust(r: RedisClient, sale: string, item: string, b: number, marker: string, delta: number) {
  const bk = bucketKeys(sale, item, b);
  const t = (await callScript(
    r,
    'inventory_bucket_adjust',
    [bk.stock, bk.takes],
    [marker, delta, ORDER_RECORD_TTL_SECONDS],
  )) as [number, number];
  return Number(t[0]);
}

const seedScript = (r: RedisClient, sale: string, item: string, args: (string | number)[]) =>
  callScript(r, 'inventory_bucket_seed', [itemKeys(sale, item).meta], args) as Promise<(string | number)[]>;

/**
 * Carry out an open seed operation `op` of `delta` units over `k` buckets (idempotent: a crashed or concurrent run of
 * the same operation meets the same markers) and close it. A restock adds `shares(delta, k)`; a reduction takes each
 * bucket's share where it still holds units, then what is missing from any bucket that has some; when the unsold units
 * cannot cover it, every unit taken is put back and the operation closes with nothing booked.
 * Returns the units applied (0 when a reduction was refused) and, for a refusal, the units left over the buckets.
 */
async function runSeedOp(
  r: RedisClient,
  sale: string,
  item: string,
  k: number,
  op: string,
  delta: number,
): Promise<{ applied: number; unsold: number }> {
  if (delta > 0) {
    await Promise.all(shares(delta, k).map((u, b) => (u > 0 ? adjust(r, sale, item, b, `~seed:${op}`, u) : 0)));
    await seedScript(r, sale, item, ['commit', 0, k, 0, Date.now(), op, 0]);
    return { applied: delta, unsold: 0 };
  }
  const need = -delta;
  const cut = await Promise.all(
    shares(need, k).map(async (u, b) => (u > 0 ? -(await adjust(r, sale, item, b, `~seed:${op}:1`, -u)) : 0)),
  );
  let short = need - cut.reduce((n, x) => n + x, 0);
  for (let b = 0; b < k && short > 0; b++) {
    const got = -(await adjust(r, sale, item, b, `~seed:${op}:2`, -short));
    cut[b] = (cut[b] ?? 0) + got;
    short -= got;
  }
  if (short > 0) {
    await Promise.all(cut.map((u, b) => (u > 0 ? adjust(r, sale, item, b, `~undo:${op}`, u) : 0)));
    await seedScript(r, sale, item, ['commit', 0, k, 0, Date.now(), op, 0]);
    return { applied: 0, unsold: need - short };
  }
  await seedScript(r, sale, item, ['commit', 0, k, 0, Date.now(), op, -need]);
  return { applied: -need, unsold: 0 };
}

/**
 * The one entry point to put stock into an item, for any K (the operator and the CLI call it on every run):
 * - K = 1: `seedItem` (the plain item), refused if the item is held over several buckets;
 * - a fresh item: `total` split over K buckets (`shares`);
 * - an item already seeded with the same K: the change `total - initial` spread over the buckets; a reduction never
 *   takes a bucket below 0 and is refused (SeedRefusedError naming the item and the shortfall, nothing changed) when
 *   the unsold units cannot cover it; the per-user limit is updated;
 * - an item seeded with another K: refused (SeedRefusedError, reason k_mismatch): K of a live item cannot change.
 * Safe under concurrent reserves: the books change atomically in the home slot (lua/inventory_bucket_seed.lua), the
 * units per bucket atomically in each bucket's slot (lua/inventory_bucket_adjust.lua), as a journaled operation that
 * the next call completes after a crash. Units are booked before they become sellable and leave the buckets before a
 * reduction is booked, so a crash in the middle can never oversell.
 */
export async function seedBuckets(
  r: RedisClient,
  sale: string,
  item: string,
  total: number,
  k: number,
  perUserLimit = 0,
): Promise<SeedResult> {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`stock buckets must be an integer >= 1 (got ${k})`);
  const home = itemKeys(sale, item);
  if (k === 1) {
    const have = Number((await r.hget(home.meta, 'buckets')) ?? 1);
    if (have > 1) throw kMismatch(sale, item, have, 1);
    return seedItem(r, sale, item, total, perUserLimit);
  }
  const levels = async () => (await bucketLevels(r, sale, item, k)).reduce((n, x) => n + x, 0);
  for (let attempt = 0; attempt < 5; attempt++) {
    // a reduction the unsold units cannot cover is refused before anything changes (re-checked while it runs)
    const initial = await r.hget(home.meta, 'initial');
    if (initial !== null && total < Number(initial)) {
      const unsold = await levels();
      if (Number(initial) - total > unsold && (await bucketCount(r, sale, item)) === k) {
        throw shortfallError(sale, item, Number(initial), total, unsold, k);
      }
    }
    const op = randomUUID();
    const b = await seedScript(r, sale, item, ['begin', total, k, perUserLimit, Date.now(), op, 0]);
    const outcome = String(b[0]);
    const [opId, delta, heldK, before] = [String(b[1]), Number(b[2]), Number(b[3]), Number(b[4])];
    if (outcome === 'k_mismatch') throw kMismatch(sale, item, heldK, k);
    if (outcome === 'pending') {
      // an operation left open by a crashed or concurrent call: complete it, then apply this one
      await runSeedOp(r, sale, item, heldK, opId, delta);
      continue;
    }
    await r.sadd(saleKeys(sale).items, item);
    if (outcome === 'unchanged') return { outcome, initial: before, remaining: await levels(), applied: 0 };
    const res = delta === 0 ? { applied: 0, unsold: 0 } : await runSeedOp(r, sale, item, k, opId, delta);
    const remaining = await levels();
    if (outcome === 'reduced' && res.applied === 0) throw shortfallError(sale, item, before, total, res.unsold, k);
    const ch = channels(sale).stock;
    if (outcome === 'restocked' && remaining > 0 && remaining <= delta) {
      await r.publish(ch, JSON.stringify({ event: 'restocked', item_id: item, remaining }));
    } else if (outcome === 'reduced' && remaining === 0) {
      await r.publish(ch, JSON.stringify({ event: 'sold_out', item_id: item, remaining: 0 }));
    }
    const after = Number((await r.hget(home.meta, 'initial')) ?? 0);
    return { outcome: outcome as SeedResult['outcome'], initial: after, remaining, applied: res.applied };
  }
  throw new Error(`seedBuckets: item "${item}" of sale "${sale}" kept an open seed operation after 5 attempts`);
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

const claimScript = (r: RedisClient, sale: string, o: ReserveInput, now: number, mode: 'claim' | 'sold_out') => {
  const home = itemKeys(sale, o.itemId);
  return callScript(
    r,
    'inventory_bucket_claim',
    [home.meta, home.order(o.orderId), home.user(o.userId)],
    [
      o.orderId,
      o.userId,
      o.quantity,
      now,
      o.correlationId,
      o.requestId,
      o.itemId,
      channels(sale).status,
      ORDER_RECORD_TTL_SECONDS,
      mode,
    ],
  ) as Promise<[OrderStatus | 'CLAIMING', string, number, number]>;
};

/**
 * Answer orders of a bucketed item that every bucket was just read empty for (`bucketLevels` all below their
 * quantity): one home-slot script per order, issued at once in the given order (a pipeline), with the same dedupe and
 * per-user limit as a reserve, so a backlog after the sell-out is refused at the plain reserve's pace instead of a
 * claim, K takes and a commit each. Returns per order its result, or undefined for an order left CLAIMING by a crash
 * (the caller runs the full `reserveBucketed` for it: it may hold a take).
 */
export async function refuseSoldOut(
  r: RedisClient,
  sale: string,
  orders: ReserveInput[],
  now = Date.now(),
): Promise<PromiseSettledResult<BucketReserveResult | undefined>[]> {
  return Promise.allSettled(
    orders.map(async (o) => {
      const c = await claimScript(r, sale, o, now, 'sold_out');
      if (c[0] === 'CLAIMING') return undefined;
      return { status: c[0], reason: c[1], bucket: -1, replayed: Number(c[2]) === 1 };
    }),
  );
}

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
  const claim = await claimBucketed(r, sale, o, now);
  if (claim.done) return claim.done;
  const bucket = await takeBucketed(r, sale, o, k, claim.resumed);
  return commitBucketed(r, sale, o, k, bucket, holdTtlMs, now);
}

/**
 * Step 1 of a bucketed reserve (home slot): dedupe and per-user limit. `done` is the answer when the order is not to
 * be claimed (a replay, LIMIT_EXCEEDED, REJECTED); else it is CLAIMING, `resumed` when it already was (a crash).
 */
export async function claimBucketed(
  r: RedisClient,
  sale: string,
  o: ReserveInput,
  now = Date.now(),
): Promise<{ done?: BucketReserveResult; resumed: boolean }> {
  const claim = await claimScript(r, sale, o, now, 'claim');
  if (claim[0] !== 'CLAIMING') {
    return {
      done: { status: claim[0], reason: claim[1], bucket: -1, replayed: Number(claim[2]) === 1 },
      resumed: false,
    };
  }
  return { resumed: Number(claim[3]) === 1 };
}

/**
 * Step 2 (bucket slots): the bucket the order's units come from, or -1 when every bucket is empty. A resumed order
 * first looks for an earlier take in every bucket (at once), so a unit is never taken twice.
 */
export async function takeBucketed(
  r: RedisClient,
  sale: string,
  o: ReserveInput,
  k: number,
  resumed: boolean,
): Promise<number> {
  const first = startBucket(o.orderId, k);
  const order = Array.from({ length: k }, (_, i) => (first + i) % k);
  if (resumed) {
    // an earlier attempt may have taken units already
    const seen = await Promise.all(order.map((b) => take(r, sale, o.itemId, b, o.orderId, o.quantity, 'peek')));
    const i = seen.findIndex((t) => t.units > 0);
    if (i >= 0) return order[i]!;
  }
  if ((await take(r, sale, o.itemId, first, o.orderId, o.quantity, 'take')).units > 0) return first;
  // the start bucket is empty: read the others' levels at once (one round trip however large K is), then take, in
  // bucket order, only where enough units are left. A unit given back after the read is missed as it would be by a
  // bucket-by-bucket walk that had passed its bucket: the next order finds it.
  const rest = order.slice(1);
  const levels = await Promise.all(rest.map((b) => r.get(bucketKeys(sale, o.itemId, b).stock)));
  for (const [i, b] of rest.entries()) {
    if (Number(levels[i] ?? 0) < o.quantity) continue;
    if ((await take(r, sale, o.itemId, b, o.orderId, o.quantity, 'take')).units > 0) return b;
  }
  return -1;
}

/**
 * Step 3 (home slot): CLAIMING -> RESERVED from `bucket`, or SOLD_OUT (bucket -1; the sold-out event is published
 * when every bucket is empty, unless `publish` is false: the caller does it once for many orders).
 */
export async function commitBucketed(
  r: RedisClient,
  sale: string,
  o: ReserveInput,
  k: number,
  bucket: number,
  holdTtlMs: number,
  now = Date.now(),
  publish = true,
): Promise<BucketReserveResult> {
  const home = itemKeys(sale, o.itemId);
  const c = (await callScript(
    r,
    'inventory_bucket_commit',
    [home.meta, home.holds, home.order(o.orderId), home.user(o.userId)],
    [o.orderId, bucket, now, holdTtlMs, o.itemId, channels(sale).status],
  )) as [OrderStatus, string, string, number, number];
  const replayed = Number(c[3]) === 1;
  const recorded = replayed ? Number(c[4] ?? -1) : bucket;
  if (replayed && bucket >= 0 && recorded !== bucket) {
    // another delivery of this order, resumed at the same time, committed first with units from another bucket (or
    // none): the units this one took are not the order's, give them back (guarded by the take marker: once)
    await giveBack(r, sale, o.itemId, bucket, o.orderId);
  }
  if (c[0] === 'SOLD_OUT' && publish) await publishIfSoldOut(r, sale, o.itemId, k);
  return { status: c[0], reason: c[1], bucket: recorded, replayed };
}

/** Remaining units per bucket. */
export async function bucketLevels(r: RedisClient, sale: string, item: string, k: number): Promise<number[]> {
  const v = await Promise.all(Array.from({ length: k }, (_, b) => r.get(bucketKeys(sale, item, b).stock)));
  return v.map((x) => Number(x ?? 0));
}

/** Sold out only when every bucket is empty: publish the sold-out event then (the gateway's flag follows it). */
export async function publishIfSoldOut(r: RedisClient, sale: string, item: string, k: number): Promise<boolean> {
  const levels = await bucketLevels(r, sale, item, k);
  if (levels.some((x) => x > 0)) return false;
  await r.publish(channels(sale).stock, JSON.stringify({ event: 'sold_out', item_id: item, remaining: 0 }));
  return true;
}

/** Return an order's units to bucket `b` if it still holds them (the take marker), once; publish a restock from 0. */
async function giveBack(r: RedisClient, sale: string, item: string, b: number, orderId: string): Promise<number> {
  const bk = bucketKeys(sale, item, b);
  const g = (await callScript(r, 'inventory_bucket_give', [bk.stock, bk.takes], [orderId])) as [number, number];
  const units = Number(g[0]);
  if (units > 0 && Number(g[1]) === units) {
    await r.publish(channels(sale).stock, JSON.stringify({ event: 'restocked', item_id: item, remaining: units }));
  }
  return units;
}

/** Give back the units of a settled order to bucket `b`, then clear its pending entry in the home slot. */
async function completeGive(r: RedisClient, sale: string, item: string, b: number, orderId: string) {
  const units = await giveBack(r, sale, item, b, orderId);
  // the entry only says "a give-back may be missing"; the give itself is guarded, so clearing it is a plain HDEL
  await r.hdel(itemKeys(sale, item).gives, orderId);
  return units;
}

/**
 * Complete every give-back recorded as pending for a bucketed item (settled PAYMENT_FAILED / EXPIRED, units not yet
 * back in their bucket: a crash between the two steps, or one in flight). Safe to run at any time: each give is once.
 * Returns the units returned by this call.
 */
export async function completeGives(r: RedisClient, sale: string, item: string): Promise<number> {
  const pending = await r.hgetall(itemKeys(sale, item).gives);
  const done = await Promise.all(
    Object.entries(pending).map(([orderId, b]) => completeGive(r, sale, item, Number(b), orderId)),
  );
  return done.reduce((n, x) => n + x, 0);
}

export interface BucketSettleResult {
  status: string;
  /** settled | replay | not_reserved | expired (a confirm after the hold's deadline: the hold expired, refund); K = 1:
   *  the outcomes of confirm / release */
  outcome: string;
  units: number;
}

/**
 * Settle a bucketed hold (K = 1: confirm / release). CONFIRMED keeps the units taken (after the hold's deadline the
 * hold expires instead: outcome `expired`); PAYMENT_FAILED / EXPIRED give them back to their bucket, exactly once: the
 * home slot records the give-back as pending, the bucket takes the units back (guarded by the take marker), then the
 * pending entry is cleared. A replay repeats the give-back (a no-op if it was done); a crash in between is completed
 * by `completeGives` (the processor's hold sweeper).
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
): Promise<BucketSettleResult> {
  if (k <= 1) {
    if (final === 'CONFIRMED') return confirm(r, sale, item, orderId, now);
    return release(r, sale, item, orderId, final, reason, now);
  }
  const home = itemKeys(sale, item);
  const rec = await r.hget(home.order(orderId), 'user_id');
  const s = (await callScript(
    r,
    'inventory_bucket_settle',
    [home.meta, home.holds, home.order(orderId), home.user(rec ?? ''), home.gives],
    [orderId, final, reason, now, item, channels(sale).status],
  )) as [string, string, number, number];
  const bucket = Number(s[3]);
  let units = Number(s[2]);
  const gaveUp = s[0] === 'PAYMENT_FAILED' || s[0] === 'EXPIRED';
  if (gaveUp && (s[1] === 'settled' || s[1] === 'expired' || s[1] === 'replay') && bucket >= 0) {
    const back = await completeGive(r, sale, item, bucket, orderId);
    if (s[1] === 'replay') units = back;
  }
  return { status: s[0], outcome: s[1], units };
}

/**
 * Expire due holds of an item, at most `batch` (K = 1: expireHolds). For K > 1 the home slot settles them (the same
 * compare-and-set as settleBucketed) and records the give-backs; then every pending give-back of the item is
 * completed, including any a crash left behind.
 */
export async function expireBucketed(
  r: RedisClient,
  sale: string,
  item: string,
  k: number,
  batch = 500,
  now = Date.now(),
): Promise<ExpireResult> {
  if (k <= 1) return expireHolds(r, sale, item, batch, now);
  const home = itemKeys(sale, item);
  const res = (await callScript(
    r,
    'inventory_bucket_expire',
    [home.meta, home.holds, home.gives],
    [now, batch, item, channels(sale).status, home.order(''), home.user('')],
  )) as [number, number, number];
  await completeGives(r, sale, item);
  return { orders: Number(res[0]), units: Number(res[1]), dueLeft: Number(res[2]) };
}

/** The audit of a bucketed item: remaining is the sum over the buckets; drift must be 0 once the sale settles. */
export async function auditBucketed(r: RedisClient, sale: string, item: string, k: number): Promise<ItemAudit> {
  if (k <= 1) return auditItem(r, sale, item);
  // the home slot and the buckets read at the same time: the window in which an order between two steps shows as
  // drift stays as short as the round trip
  const [a, levels] = await Promise.all([auditItem(r, sale, item), bucketLevels(r, sale, item, k)]);
  const remaining = levels.reduce((n, x) => n + x, 0);
  return { ...a, remaining, drift: a.initial - remaining - a.confirmed - a.held };
}
