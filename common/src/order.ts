/** The order contract shared by gateway, processor, operator and CLI. */
import { hash } from 'node:crypto';
import { z } from 'zod';
import { compiledCheck } from './compiled-check.ts';
import { itemIdSchema, itemKeys, saleNameSchema, userIdSchema } from './keys.ts';
import type { RedisClient } from './redis.ts';
import { callScript } from './scripts.ts';

export const ORDER_STATUSES = [
  'QUEUED',
  'RESERVED',
  'CONFIRMED',
  'SOLD_OUT',
  'LIMIT_EXCEEDED',
  'PAYMENT_FAILED',
  'EXPIRED',
  'REJECTED',
  'REFUNDED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];
export const orderStatusSchema = z.enum(ORDER_STATUSES);

export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  'CONFIRMED',
  'SOLD_OUT',
  'LIMIT_EXCEEDED',
  'PAYMENT_FAILED',
  'EXPIRED',
  'REJECTED',
  'REFUNDED',
]);
export const isFinalStatus = (s: OrderStatus): boolean => FINAL_STATUSES.has(s);

/**
 * The reason of an order charged after its hold expired (its units already went back to stock): EXPIRED with this
 * reason means a refund is owed, and the processor's refund turns it REFUNDED (the one move out of a final status).
 */
export const PAID_AFTER_EXPIRY = 'paid_after_expiry';
/** EXPIRED and charged: REFUNDED follows (a status stream waits for it). */
export const isRefundDue = (status: string, reason: string | undefined): boolean =>
  status === 'EXPIRED' && reason === PAID_AFTER_EXPIRY;

/** Allowed transitions; anything else is a bug. */
export const STATUS_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  QUEUED: ['RESERVED', 'SOLD_OUT', 'LIMIT_EXCEEDED', 'REJECTED'],
  RESERVED: ['CONFIRMED', 'PAYMENT_FAILED', 'EXPIRED'],
  CONFIRMED: [],
  SOLD_OUT: [],
  LIMIT_EXCEEDED: [],
  PAYMENT_FAILED: [],
  // a payment that landed after the hold expired is refunded (reason paid_after_expiry only)
  EXPIRED: ['REFUNDED'],
  REJECTED: [],
  REFUNDED: [],
};

export const MAX_ORDER_QUANTITY = 100;

export const orderIdSchema = z
  .string()
  .min(3)
  .max(120)
  .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9-]+$/, 'must be "<item_id>.<id>"');

/**
 * Order ids carry the item so a status lookup finds the item's hash slot without another index, and
 * are derived from (sale, user, idempotency key): a client's retry after a timed-out produce and a
 * late write of the first attempt are the same order, which the processor's dedupe handles once.
 */
export function newOrderId(sale: string, itemId: string, userId: string, idempotencyKey: string): string {
  // crypto.hash: the same digest as createHash, without a Hash object per order
  const digest = hash('sha256', `${sale}\0${userId}\0${idempotencyKey}`, 'hex').slice(0, 32);
  return `${itemId}.${digest}`;
}

export function itemOfOrderId(orderId: string): string {
  const dot = orderId.lastIndexOf('.');
  if (dot <= 0) throw new Error(`malformed order id "${orderId}": expected "<item_id>.<id>"`);
  return orderId.slice(0, dot);
}

/** Kafka value of the orders topic (JSON). Keyed by item_id so one item's orders keep their order. */
export const orderMessageSchema = z
  .object({
    v: z.literal(1),
    order_id: orderIdSchema,
    sale: saleNameSchema,
    item_id: itemIdSchema,
    user_id: userIdSchema,
    quantity: z.number().int().min(1).max(MAX_ORDER_QUANTITY),
    request_id: z.string().min(1).max(128),
    correlation_id: z.string().min(1).max(128),
    created_at: z.iso.datetime(),
  })
  .strict();
export type OrderMessage = z.infer<typeof orderMessageSchema>;

/** Kafka headers every order message carries. */
export const ORDER_HEADERS = {
  correlationId: 'correlation_id',
  requestId: 'request_id',
  contentType: 'content-type',
  schemaVersion: 'schema_version',
} as const;

/** The headers of an order message, as the gateway sends it (a poison value still names its request by them). */
export function orderMessageHeaders(order: Pick<OrderMessage, 'v' | 'correlation_id' | 'request_id'>) {
  return {
    [ORDER_HEADERS.correlationId]: order.correlation_id,
    [ORDER_HEADERS.requestId]: order.request_id,
    [ORDER_HEADERS.contentType]: 'application/json',
    [ORDER_HEADERS.schemaVersion]: String(order.v),
  };
}

/** What the gateway answers and the status endpoint returns. */
export const orderViewSchema = z.object({
  order_id: orderIdSchema,
  status: orderStatusSchema,
  item_id: itemIdSchema,
  user_id: userIdSchema.optional(),
  quantity: z.number().int().optional(),
  reason: z.string().optional(),
  hold_expires_at: z.string().optional(),
  updated_at: z.string().optional(),
});
export type OrderView = z.infer<typeof orderViewSchema>;

/** The order schema's check for every message written and read (a ZodError when it fails): compiled-check.ts. */
const checkOrder = compiledCheck(orderMessageSchema);

export function encodeOrder(msg: OrderMessage): Buffer {
  return Buffer.from(JSON.stringify(checkOrder(msg)));
}

/** Parse a Kafka value; throws a ZodError or SyntaxError that names what is wrong. */
export function decodeOrder(value: Buffer | null): OrderMessage {
  if (!value) throw new Error('order message has no value');
  return checkOrder(JSON.parse(value.toString('utf8')));
}

/**
 * Fields of the order hash `itemKeys(sale, item).order(order_id)`. It is the order's status record
 * the processor's dedupe marker and the gateway's idempotency claim at once: the gateway creates it with status QUEUED
 * (lua/order_admit.lua, only if absent); `reserve` acts only on an absent or QUEUED order and
 * otherwise returns the stored status unchanged (replay), so a redelivered message changes nothing.
 * Times are milliseconds since the epoch, as strings.
 */
export const ORDER_FIELDS = {
  status: 'status',
  userId: 'user_id',
  quantity: 'quantity',
  correlationId: 'correlation_id',
  requestId: 'request_id',
  reason: 'reason',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  holdExpiresAt: 'hold_expires_at',
  /** set by the processor once the order's failure is in the DLQ (so a replay dead-letters it at most once) */
  dlqAt: 'dlq_at',
  /** when the processor recorded the refund of a payment that landed after the hold expired (status REFUNDED) */
  refundedAt: 'refunded_at',
} as const;

/** How long order records stay readable after a sale (for status lookups and the audit). */
export const ORDER_RECORD_TTL_SECONDS = 7 * 24 * 3600;

/** The stored 202 of one order: its quantity (a retry with another one is a mismatch) and its body. */
export interface OrderAnswer {
  orderId: string;
  quantity: number;
  body: string;
}

/**
 * Store the 202s of orders of one item that Kafka acknowledged, for replays: `<quantity> <body>` at
 * `itemKeys(sale, item).answer(order id)`, read by lua/order_admit.lua and by the gateway's sold-out path. Written only
 * after the acknowledgement, so a retry never replays a 202 for an order that is not in Kafka; a later answer of the
 * same order (a stale claim taken over and sent again) replaces it: both are true answers. One script call
 * (lua/order_answers_store.lua) in the item's slot, on the connection the admission used, so a retry after the 202
 * finds it.
 */
export function storeOrderAnswers(
  r: RedisClient,
  a: { sale: string; itemId: string; ttlMs: number; answers: readonly OrderAnswer[] },
): Promise<unknown> {
  const keys = itemKeys(a.sale, a.itemId);
  const first = a.answers[0];
  if (!first) return Promise.resolve(0);
  const args: (string | number)[] = [a.ttlMs];
  for (const x of a.answers) args.push(keys.answer(x.orderId), `${x.quantity} ${x.body}`);
  return callScript(r, 'order_answers_store', [keys.answer(first.orderId)], args);
}
