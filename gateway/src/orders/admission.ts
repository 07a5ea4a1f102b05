/**
 * Order step 3, admission: one Redis script (lua/order_admit.lua) takes the user's token, checks the idempotency key,
 * the per-user limit, and creates the QUEUED order record that is also the key's claim. All its keys carry the item's
 * hash tag `{<sale>:<item>}` (common/src/keys.ts itemKeys), the slot the processor's reserve already uses for the
 * order record and the user's units, so the call runs on Redis Cluster without CROSSSLOT. The orders of one item that
 * arrive in one turn of the event loop share one call (admitted in arrival order, each as if alone): each request's
 * handler runs in a callback of its own, so the call is made when the turn's I/O callbacks are done (setImmediate),
 * which is when ioredis would have written them anyway; the per-command cost on the client, not Redis's work, was
 * what a call per order added (docs/benchmarks.md, issue 17).
 */
import {
  type AdmitPolicy,
  type AdmitReply,
  type AdmitRequest,
  admitOrders,
  answerWaiters,
  itemKeys,
  newOrderId,
  ORDER_RECORD_TTL_SECONDS,
  type RedisClient,
  TurnBatch,
  type Waiter,
  waitInBatch,
} from '@flashsale/common';
import type { RateLimitPolicy } from '../config.ts';
import type { RateLimitResult } from '../rate-limit.ts';
import type { OrderRequest } from './parse.ts';

export const USER_POLICY = 'order-user';

export type Admitted =
  /** the user's bucket is empty (nothing else was read or written) */
  | { kind: 'limited' }
  /** a completed request: its stored 202 body */
  | { kind: 'replay'; body: string }
  /** the same key with another quantity (or item: another order id, see docs/api.md) */
  | { kind: 'mismatch' }
  /** claimed moments ago by a request that has no answer yet */
  | { kind: 'inflight' }
  /** the breaker is open: nothing was written */
  | { kind: 'broker' }
  /** the user already holds or bought too many units */
  | { kind: 'limit' }
  /** the order is past QUEUED but was never answered (its first answer was a 503): 202 with its status */
  | { kind: 'exists'; status: string }
  /** the QUEUED record was created (`new`) or a stale claim taken over (`resend`): send it to Kafka */
  | { kind: 'new' | 'resend' };

export interface AdmissionOptions {
  sale: string;
  /** null: rate limiting disabled */
  userPolicy: RateLimitPolicy | null;
  /** a claim older than this that was never answered is taken over (a gateway died mid-send) */
  pendingTtlMs: number;
}

export class Admission {
  private readonly redis: RedisClient;
  private readonly opts: AdmissionOptions;
  /** item -> orders of this turn */
  private readonly batch: TurnBatch<Waiter<AdmitRequest, AdmitReply>>;

  constructor(redis: RedisClient, opts: AdmissionOptions) {
    this.redis = redis;
    this.opts = opts;
    const policy: AdmitPolicy = {
      capacity: opts.userPolicy?.capacity ?? 0,
      refillPerSecond: opts.userPolicy?.refillPerSecond ?? 0,
      pendingTtlMs: opts.pendingTtlMs,
      recordTtlSeconds: ORDER_RECORD_TTL_SECONDS,
    };
    // Called through ioredis's auto-pipeline, not around it: a call queued earlier in this turn on the item's
    // connection (an order's stored answer, orders/answers.ts) stays ahead of this one, so a retry sees its answer.
    this.batch = new TurnBatch(setImmediate, (itemId, waiters) =>
      answerWaiters(waiters, (orders) => admitOrders(redis, { sale: opts.sale, itemId, policy, orders })),
    );
  }

  orderId(o: OrderRequest): string {
    return newOrderId(this.opts.sale, o.itemId, o.userId, o.key);
  }

  /** One share of a script call; `bucket` is the user's bucket after it (undefined when rate limiting is disabled). */
  async admit(
    o: OrderRequest,
    a: { orderId: string; correlationId: string; now: number; perUserLimit: number; brokerOpen: boolean },
  ): Promise<Admitted & { bucket: RateLimitResult | undefined }> {
    const reply = await waitInBatch(this.batch, o.itemId, {
      orderId: a.orderId,
      userId: o.userId,
      quantity: o.quantity,
      correlationId: a.correlationId,
      requestId: o.key,
      now: a.now,
      perUserLimit: a.perUserLimit,
      brokerOpen: a.brokerOpen,
    });
    const p = this.opts.userPolicy;
    const bucket: RateLimitResult | undefined = p
      ? {
          allowed: reply.outcome !== 'limited',
          remaining: reply.remaining,
          limit: p.capacity,
          retryAfterMs: reply.retryMs,
          resetMs: reply.fullMs,
          policy: USER_POLICY,
          windowSeconds: Math.round(p.capacity / p.refillPerSecond),
        }
      : undefined;
    switch (reply.outcome) {
      case 'replay':
        return { kind: 'replay', body: reply.detail, bucket };
      case 'exists':
        return { kind: 'exists', status: reply.detail, bucket };
      default:
        return { kind: reply.outcome, bucket };
    }
  }

  /**
   * Read-only: the stored 202 body of this request if it was accepted with this quantity, or null. One GET, no script:
   * the sold-out path answers a buyer's retry with their order without a write or Kafka.
   */
  async storedAnswer(o: OrderRequest): Promise<string | null> {
    const v = await this.redis.get(itemKeys(this.opts.sale, o.itemId).answer(this.orderId(o)));
    const m = v ? /^(\d+) ([\s\S]*)$/.exec(v) : null;
    return m && Number(m[1]) === o.quantity ? (m[2] ?? null) : null;
  }
}
