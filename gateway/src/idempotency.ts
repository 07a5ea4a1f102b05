/** Idempotency records keyed on (user, key), kept by lua/idempotency_*.lua. */
import { createHash } from 'node:crypto';
import { callScript, idempotencyKey, type RedisClient } from '@flashsale/common';

export type BeginResult =
  | { kind: 'new' }
  | { kind: 'mismatch'; orderId: string }
  | { kind: 'inflight'; orderId: string }
  | { kind: 'done'; orderId: string; statusCode: number; body: string };

export class IdempotencyStore {
  private readonly redis: RedisClient;
  private readonly sale: string;
  private readonly ttlMs: number;
  private readonly pendingTtlMs: number;

  constructor(redis: RedisClient, sale: string, ttlMs: number, pendingTtlMs: number) {
    this.redis = redis;
    this.sale = sale;
    this.ttlMs = ttlMs;
    this.pendingTtlMs = pendingTtlMs;
  }

  /** The fingerprint of what the request asks for (route-independent, so /buy and /v1/orders agree). */
  static fingerprint(parts: (string | number)[]): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('base64url');
  }

  async begin(userId: string, key: string, fingerprint: string, orderId: string): Promise<BeginResult> {
    const r = (await callScript(
      this.redis,
      'idempotency_begin',
      [idempotencyKey(this.sale, userId, key)],
      [fingerprint, orderId, this.pendingTtlMs],
    )) as string[];
    switch (r[0]) {
      case 'new':
        return { kind: 'new' };
      case 'mismatch':
        return { kind: 'mismatch', orderId: r[1] ?? '' };
      case 'inflight':
        return { kind: 'inflight', orderId: r[1] ?? '' };
      default:
        return { kind: 'done', orderId: r[1] ?? '', statusCode: Number(r[2]), body: r[3] ?? '' };
    }
  }

  /** Read-only: the completed answer stored for (user, key) with this fingerprint, or null. One HMGET, no script. */
  async completed(
    userId: string,
    key: string,
    fingerprint: string,
  ): Promise<{ orderId: string; statusCode: number; body: string } | null> {
    const [state, fp, orderId, code, body] = await this.redis.hmget(
      idempotencyKey(this.sale, userId, key),
      'state',
      'fp',
      'order_id',
      'code',
      'body',
    );
    if (state !== 'done' || fp !== fingerprint || !orderId || !code) return null;
    return { orderId, statusCode: Number(code), body: body ?? '' };
  }

  async complete(userId: string, key: string, orderId: string, statusCode: number, body: string): Promise<boolean> {
    const r = await callScript(
      this.redis,
      'idempotency_complete',
      [idempotencyKey(this.sale, userId, key)],
      [orderId, statusCode, body, this.ttlMs],
    );
    return Number(r) === 1;
  }

  async release(userId: string, key: string, orderId: string): Promise<boolean> {
    const r = await callScript(this.redis, 'idempotency_release', [idempotencyKey(this.sale, userId, key)], [orderId]);
    return Number(r) === 1;
  }
}
