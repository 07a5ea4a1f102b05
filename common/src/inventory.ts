/**
 * Typed wrappers over the inventory Lua scripts (lua/inventory_*.lua). Stock, holds, per-user counts and
 * order status change only through these; plain commands are used for reads and the item index only.
 */
import { channels, itemKeys, saleKeys } from './keys.ts';
import type { OrderStatus } from './order.ts';
import { ORDER_RECORD_TTL_SECONDS } from './order.ts';
import type { RedisClient } from './redis.ts';
import { callScript } from './scripts.ts';

const scriptKeys = (sale: string, item: string) => {
  const k = itemKeys(sale, item);
  return { k, base: [k.stock, k.meta, k.holds], userPrefix: k.user(''), orderPrefix: k.order('') };
};

export interface SeedResult {
  outcome: 'seeded' | 'unchanged' | 'restocked' | 'reduced';
  initial: number;
  remaining: number;
  /** units actually added (> 0) or removed (< 0) */
  applied: number;
}

/**
 * Seed an item exactly once; later calls apply `total - initial` as a delta: a restock adds units, a reduction
 * removes only units still remaining (never sold or held ones, never below 0). Also records the item in the
 * sale's item index.
 */
export async function seedItem(
  r: RedisClient,
  sale: string,
  item: string,
  total: number,
  perUserLimit = 0,
  now = Date.now(),
): Promise<SeedResult> {
  const { k } = scriptKeys(sale, item);
  const res = (await callScript(
    r,
    'inventory_seed',
    [k.stock, k.meta],
    [total, perUserLimit, now, channels(sale).stock, item],
  )) as [SeedResult['outcome'], number, number, number];
  await r.sadd(saleKeys(sale).items, item);
  return { outcome: res[0], initial: res[1], remaining: res[2], applied: res[3] };
}

export interface ReserveInput {
  orderId: string;
  itemId: string;
  userId: string;
  quantity: number;
  correlationId: string;
  requestId: string;
}

export interface ReserveResult {
  status: OrderStatus;
  /** '' on success; unknown_item | per_user_limit | sold_out | insufficient_stock, or the stored reason on replay */
  reason: string;
  remaining: number;
  /** ms since the epoch as a string, '' when no hold */
  holdExpiresAt: string;
  /** true when the order had already been acted on: nothing changed */
  replayed: boolean;
}

export type ReserveTuple = [OrderStatus, string, number, string, number];

/** Keys and arguments of one reserve call for `orders`, all of item `itemId`, acted on in the order given. */
export function reserveManyArgs(
  sale: string,
  itemId: string,
  orders: ReserveInput[],
  holdTtlMs: number,
  now = Date.now(),
): { keys: string[]; args: (string | number)[] } {
  const { base, orderPrefix, userPrefix } = scriptKeys(sale, itemId);
  const ch = channels(sale);
  const args: (string | number)[] = [
    now,
    holdTtlMs,
    itemId,
    ch.stock,
    ch.status,
    ORDER_RECORD_TTL_SECONDS,
    orderPrefix,
    userPrefix,
  ];
  const packed: [string, string, number, string, string][] = [];
  for (const o of orders) {
    if (o.itemId !== itemId) throw new Error(`order ${o.orderId} is not of item ${itemId}`);
    packed.push([o.orderId, o.userId, o.quantity, o.correlationId, o.requestId]);
  }
  args.push(JSON.stringify(packed));
  return { keys: base, args };
}

export function reserveArgs(
  sale: string,
  o: ReserveInput,
  holdTtlMs: number,
  now = Date.now(),
): { keys: string[]; args: (string | number)[] } {
  return reserveManyArgs(sale, o.itemId, [o], holdTtlMs, now);
}

/** The answers of one reserve call (a JSON array), one per order in the order given. */
export function parseReserveMany(res: unknown): ReserveResult[] {
  return (JSON.parse(res as string) as ReserveTuple[]).map((t) => ({
    status: t[0],
    reason: t[1],
    remaining: Number(t[2]),
    holdExpiresAt: t[3],
    replayed: t[4] === 1,
  }));
}

export function parseReserve(res: unknown): ReserveResult {
  return parseReserveMany(res)[0]!;
}

/** Reserve several orders of one item in one script call, in the order given (each as `reserve` would). */
export async function reserveMany(
  r: RedisClient,
  sale: string,
  itemId: string,
  orders: ReserveInput[],
  holdTtlMs: number,
  now = Date.now(),
): Promise<ReserveResult[]> {
  const { keys, args } = reserveManyArgs(sale, itemId, orders, holdTtlMs, now);
  return parseReserveMany(await callScript(r, 'inventory_reserve', keys, args));
}

/** Atomically: dedupe, per-user limit, stock check, decrement, hold with expiry, status. */
export async function reserve(
  r: RedisClient,
  sale: string,
  o: ReserveInput,
  holdTtlMs: number,
  now = Date.now(),
): Promise<ReserveResult> {
  const { keys, args } = reserveArgs(sale, o, holdTtlMs, now);
  return parseReserve(await callScript(r, 'inventory_reserve', keys, args));
}

export interface SettleResult {
  status: OrderStatus | 'UNKNOWN';
  /** confirmed | released | replay | not_reserved | expired (confirm after the hold's deadline: refund) */
  outcome: 'confirmed' | 'released' | 'replay' | 'not_reserved' | 'expired';
  units: number;
}

/** One hold to settle: confirm it (CONFIRMED) or release it (PAYMENT_FAILED | EXPIRED, with a reason). */
export interface SettleInput {
  orderId: string;
  final: 'CONFIRMED' | 'PAYMENT_FAILED' | 'EXPIRED';
  reason: string;
}

/**
 * Settle several holds of one item in one script call (lua/inventory_settle.lua), each exactly once by compare-and-set;
 * one answer per hold, in the order given.
 */
export async function settleMany(
  r: RedisClient,
  sale: string,
  itemId: string,
  holds: SettleInput[],
  now = Date.now(),
): Promise<SettleResult[]> {
  const { base, userPrefix, orderPrefix } = scriptKeys(sale, itemId);
  const ch = channels(sale);
  const args: (string | number)[] = [now, itemId, ch.stock, ch.status, userPrefix, orderPrefix];
  args.push(JSON.stringify(holds.map((h) => [h.orderId, h.final, h.reason])));
  const res = JSON.parse((await callScript(r, 'inventory_settle', base, args)) as string) as [
    SettleResult['status'],
    SettleResult['outcome'],
    number,
  ][];
  return res.map((t) => ({ status: t[0], outcome: t[1], units: Number(t[2]) }));
}

/** Compare-and-set RESERVED -> CONFIRMED. After the hold's deadline the hold expires instead (outcome `expired`). */
export async function confirm(
  r: RedisClient,
  sale: string,
  itemId: string,
  orderId: string,
  now = Date.now(),
): Promise<SettleResult> {
  return (await settleMany(r, sale, itemId, [{ orderId, final: 'CONFIRMED', reason: '' }], now))[0]!;
}

/** Compare-and-set RESERVED -> PAYMENT_FAILED | EXPIRED, returning the units to stock exactly once. */
export async function release(
  r: RedisClient,
  sale: string,
  itemId: string,
  orderId: string,
  finalStatus: 'PAYMENT_FAILED' | 'EXPIRED',
  reason: string,
  now = Date.now(),
): Promise<SettleResult> {
  return (await settleMany(r, sale, itemId, [{ orderId, final: finalStatus, reason }], now))[0]!;
}

export interface RefundRecord {
  status: OrderStatus | 'UNKNOWN';
  /** refunded (EXPIRED paid_after_expiry -> REFUNDED now) | replay (already REFUNDED) | not_due (no refund owed) */
  outcome: 'refunded' | 'replay' | 'not_due';
  units: number;
}

/**
 * Record the refund of an order charged after its hold expired: compare-and-set EXPIRED (reason paid_after_expiry)
 * -> REFUNDED, exactly once (lua/order_refund.lua; the order record and the item's meta share the item's slot).
 */
export async function markRefunded(
  r: RedisClient,
  sale: string,
  itemId: string,
  orderId: string,
  now = Date.now(),
): Promise<RefundRecord> {
  const k = itemKeys(sale, itemId);
  const res = (await callScript(
    r,
    'order_refund',
    [k.order(orderId), k.meta],
    [orderId, now, itemId, channels(sale).status],
  )) as [RefundRecord['status'], RefundRecord['outcome'], number];
  return { status: res[0], outcome: res[1], units: Number(res[2]) };
}

export interface ExpireResult {
  orders: number;
  units: number;
  /** holds already due that this batch did not reach */
  dueLeft: number;
}

/** Return holds whose expiry is <= now to stock, at most `batch` of them. */
export async function expireHolds(
  r: RedisClient,
  sale: string,
  itemId: string,
  batch = 500,
  now = Date.now(),
): Promise<ExpireResult> {
  const { base, userPrefix, orderPrefix } = scriptKeys(sale, itemId);
  const ch = channels(sale);
  const res = (await callScript(r, 'inventory_expire', base, [
    now,
    batch,
    itemId,
    ch.stock,
    ch.status,
    orderPrefix,
    userPrefix,
  ])) as [number, number, number];
  return { orders: Number(res[0]), units: Number(res[1]), dueLeft: Number(res[2]) };
}

export interface ItemAudit {
  itemId: string;
  seeded: boolean;
  initial: number;
  remaining: number;
  confirmed: number;
  /** units in live holds */
  held: number;
  released: number;
  expired: number;
  /** units of orders charged after their hold expired and refunded (part of expired: they consume no stock) */
  refunded: number;
  /** live hold entries (orders) */
  holds: number;
  /** initial - remaining - confirmed - held; must be 0 */
  drift: number;
  perUserLimit: number;
}

export async function auditItem(r: RedisClient, sale: string, itemId: string): Promise<ItemAudit> {
  const { base } = scriptKeys(sale, itemId);
  const t = ((await callScript(r, 'inventory_audit', base)) as number[]).map(Number);
  return {
    itemId,
    seeded: t[0] === 1,
    initial: t[1] ?? 0,
    remaining: t[2] ?? 0,
    confirmed: t[3] ?? 0,
    held: t[4] ?? 0,
    released: t[5] ?? 0,
    expired: t[6] ?? 0,
    holds: t[7] ?? 0,
    drift: t[8] ?? 0,
    perUserLimit: t[9] ?? 0,
    refunded: t[10] ?? 0,
  };
}

/** Item ids seeded for the sale. */
export async function listItems(r: RedisClient, sale: string): Promise<string[]> {
  return (await r.smembers(saleKeys(sale).items)).sort();
}

/** Remaining units per item (plain reads; one round trip per slot with auto-pipelining). */
export async function readLevels(r: RedisClient, sale: string, items?: string[]): Promise<Map<string, number>> {
  const ids = items ?? (await listItems(r, sale));
  const values = await Promise.all(ids.map((i) => r.get(itemKeys(sale, i).stock)));
  return new Map(ids.map((id, n) => [id, Number(values[n] ?? 0)]));
}

export async function auditSale(r: RedisClient, sale: string, items?: string[]): Promise<ItemAudit[]> {
  const ids = items ?? (await listItems(r, sale));
  return Promise.all(ids.map((i) => auditItem(r, sale, i)));
}

/** The stored order record (status etc.), or null. */
export async function readOrder(
  r: RedisClient,
  sale: string,
  itemId: string,
  orderId: string,
): Promise<Record<string, string> | null> {
  const h = await r.hgetall(itemKeys(sale, itemId).order(orderId));
  return Object.keys(h).length === 0 ? null : h;
}
