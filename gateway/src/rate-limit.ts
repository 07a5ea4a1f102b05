/** Token-bucket rate limiting: one Redis Lua call per check (lua/rate_limit.lua), per-route policies. */
import { callScript, type RedisClient, rateLimitKey } from '@flashsale/common';
import type { Logger } from 'pino';
import type { RateLimitPolicy } from './config.ts';

export interface RateLimitResult {
  allowed: boolean;
  /** whole tokens left */
  remaining: number;
  limit: number;
  /** ms until one more request is allowed (0 when allowed) */
  retryAfterMs: number;
  /** ms until the bucket is full again */
  resetMs: number;
  policy: string;
  windowSeconds: number;
}

export class RateLimiter {
  private readonly redis: RedisClient;
  private readonly sale: string;
  private readonly log: Logger;
  private lastWarn = 0;
  readonly failOpen: boolean;

  constructor(redis: RedisClient, sale: string, failOpen: boolean, log: Logger) {
    this.redis = redis;
    this.sale = sale;
    this.failOpen = failOpen;
    this.log = log;
  }

  /** Take one token. Returns null when Redis failed and the limiter is fail-open. Throws when fail-closed. */
  async take(policyName: string, policy: RateLimitPolicy, subject: string): Promise<RateLimitResult | null> {
    try {
      const res = (await callScript(
        this.redis,
        'rate_limit',
        [rateLimitKey(this.sale, policyName, subject)],
        [policy.capacity, policy.refillPerSecond, 1],
      )) as [number, number, number, number];
      return {
        allowed: Number(res[0]) === 1,
        remaining: Number(res[1]),
        limit: policy.capacity,
        retryAfterMs: Number(res[2]),
        resetMs: Number(res[3]),
        policy: policyName,
        windowSeconds: Math.round(policy.capacity / policy.refillPerSecond),
      };
    } catch (e) {
      const now = Date.now();
      if (now - this.lastWarn > 5000) {
        this.lastWarn = now;
        this.log.warn(
          { event: 'rate_limit_unavailable', err: (e as Error).message, fail_open: this.failOpen },
          this.failOpen ? 'Rate limiter unavailable: letting requests through' : 'Rate limiter unavailable: refusing',
        );
      }
      if (this.failOpen) return null;
      throw e;
    }
  }
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) for one result. */
export function rateLimitHeaders(r: RateLimitResult): Record<string, string> {
  const h: Record<string, string> = {
    'RateLimit-Limit': String(r.limit),
    'RateLimit-Remaining': String(r.remaining),
    'RateLimit-Reset': String(Math.ceil(r.resetMs / 1000)),
    'RateLimit-Policy': `${r.limit};w=${r.windowSeconds};policy="${r.policy}"`,
  };
  if (!r.allowed) h['Retry-After'] = String(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
  return h;
}
