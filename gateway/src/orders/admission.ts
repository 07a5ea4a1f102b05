/**
 * Order step 3, admission: one Redis script call (lua/order_admit.lua) takes the user's token, checks the idempotency
 * key, the per-user limit, and creates the QUEUED order record that is also the key's claim. All its keys carry the
 * item's hash tag `{<sale>:<item>}` (common/src/keys.ts itemKeys), the slot the processor's reserve already uses for
 * the order record and the user's units, so the call runs on Redis Cluster without CROSSSLOT.
 */
import { callScript, itemKeys, newOrderId, ORDER_RECORD_TTL_SECONDS, type RedisClient } from '@flashsale/common';
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

  constructor(redis: RedisClient, opts: AdmissionOptions) {
    this.redis = redis;
    this.opts = opts;
  }

  orderId(o: OrderRequest): string {
    return newOrderId(this.opts.sale, o.itemId, o.userId, o.key);
  }

  /** One script call; `bucket` is the user's bucket after it (undefined when rate limiting is disabled). */
  async admit(
    o: OrderRequest,
    a: { orderId: string; correlationId: string; now: number; perUserLimit: number; brokerOpen: boolean },
  ): Promise<Admitted & { bucket: RateLimitResult | undefined }> {
    const k = itemKeys(this.opts.sale, o.itemId);
    const p = this.opts.userPolicy;
    const r = (await callScript(
      this.redis,
      'order_admit',
      [k.order(a.orderId), k.answer(a.orderId), k.userBucket(o.userId), k.user(o.userId)],
      [
        a.now,
        o.userId,
        o.quantity,
        a.correlationId,
        o.key,
        a.perUserLimit,
        p?.capacity ?? 0,
        p?.refillPerSecond ?? 0,
        this.opts.pendingTtlMs,
        ORDER_RECORD_TTL_SECONDS,
        a.brokerOpen ? 1 : 0,
      ],
    )) as [string, number, number, number, string?];
    const [kind, remaining, retryMs, fullMs, detail = ''] = r;
    const bucket: RateLimitResult | undefined = p
      ? {
          allowed: kind !== 'limited',
          remaining: Number(remaining),
          limit: p.capacity,
          retryAfterMs: Number(retryMs),
          resetMs: Number(fullMs),
          policy: USER_POLICY,
          windowSeconds: Math.round(p.capacity / p.refillPerSecond),
        }
      : undefined;
    switch (kind) {
      case 'replay':
        return { kind, body: detail, bucket };
      case 'exists':
        return { kind, status: detail, bucket };
      case 'limited':
      case 'mismatch':
      case 'inflight':
      case 'broker':
      case 'limit':
      case 'new':
      case 'resend':
        return { kind, bucket };
      default:
        throw new Error(`order_admit answered "${kind}"`);
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
