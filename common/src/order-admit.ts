/**
 * The admission script's contract (lua/order_admit.lua): N orders of one item in one call, each answered as one call
 * of its own would be. The gateway batches the orders that arrive in one turn of its event loop
 * (gateway/src/orders/admission.ts); the tests and the benchmark's floor server admit orders as the gateway does.
 */
import { itemKeys } from './keys.ts';
import type { RedisClient } from './redis.ts';
import { callScript } from './scripts.ts';

export interface AdmitPolicy {
  /** the user's bucket (0: no bucket) */
  capacity: number;
  refillPerSecond: number;
  /** a claim older than this that was never answered is taken over (a gateway died mid-send) */
  pendingTtlMs: number;
  recordTtlSeconds: number;
}

export interface AdmitRequest {
  orderId: string;
  userId: string;
  quantity: number;
  correlationId: string;
  /** the idempotency key */
  requestId: string;
  /** the gateway's clock, ms */
  now: number;
  /** 0: none */
  perUserLimit: number;
  /** the breaker is open: refuse new orders, answer stored ones */
  brokerOpen: boolean;
}

export type AdmitOutcome =
  | 'limited'
  | 'replay'
  | 'mismatch'
  | 'inflight'
  | 'broker'
  | 'limit'
  | 'exists'
  | 'new'
  | 'resend';

export interface AdmitReply {
  outcome: AdmitOutcome;
  /** tokens left in the user's bucket (-1: no bucket) */
  remaining: number;
  retryMs: number;
  fullMs: number;
  /** the stored body ('replay'), the order's status ('exists'), else '' */
  detail: string;
}

const OUTCOMES: ReadonlySet<string> = new Set<AdmitOutcome>([
  'limited',
  'replay',
  'mismatch',
  'inflight',
  'broker',
  'limit',
  'exists',
  'new',
  'resend',
]);

/** Admit orders of one item (one slot) in one script call; the replies in the orders' order. */
export async function admitOrders(
  r: RedisClient,
  a: { sale: string; itemId: string; policy: AdmitPolicy; orders: readonly AdmitRequest[] },
): Promise<AdmitReply[]> {
  const first = a.orders[0];
  if (!first) return [];
  const k = itemKeys(a.sale, a.itemId);
  const p = a.policy;
  const args: (string | number)[] = [p.capacity, p.refillPerSecond, p.pendingTtlMs, p.recordTtlSeconds];
  for (const o of a.orders) {
    args.push(
      k.order(o.orderId),
      k.answer(o.orderId),
      k.userBucket(o.userId),
      k.user(o.userId),
      o.now,
      o.userId,
      o.quantity,
      o.correlationId,
      o.requestId,
      o.perUserLimit,
      o.brokerOpen ? 1 : 0,
    );
  }
  const flat = (await callScript(r, 'order_admit', [k.order(first.orderId)], args)) as (string | number)[];
  if (flat.length !== a.orders.length * 5) {
    throw new Error(`order_admit answered ${flat.length} values for ${a.orders.length} orders`);
  }
  const out: AdmitReply[] = [];
  for (let i = 0; i < flat.length; i += 5) {
    const outcome = String(flat[i]);
    if (!OUTCOMES.has(outcome)) throw new Error(`order_admit answered "${outcome}"`);
    out.push({
      outcome: outcome as AdmitOutcome,
      remaining: Number(flat[i + 1]),
      retryMs: Number(flat[i + 2]),
      fullMs: Number(flat[i + 3]),
      detail: String(flat[i + 4] ?? ''),
    });
  }
  return out;
}
