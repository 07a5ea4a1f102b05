/**
 * Token buckets kept in this process (the order routes' per-IP bucket): no Redis round trip, as nginx's limit_req and
 * Envoy's local rate limit work. Each gateway replica has its own buckets, so with N replicas behind a load balancer a
 * client IP gets up to N x the capacity (docs/api.md). The same arithmetic as lua/rate_limit.lua.
 */
import type { RateLimitPolicy } from './config.ts';
import type { RateLimitResult } from './rate-limit.ts';

interface Bucket {
  tokens: number;
  ts: number;
}

/** Buckets kept at most; beyond it the oldest are dropped (a dropped bucket starts full, i.e. fails open). */
const MAX_BUCKETS = 100_000;

export class LocalRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly policyName: string;
  private readonly policy: RateLimitPolicy;
  private readonly windowSeconds: number;
  private readonly sweep: NodeJS.Timeout;

  constructor(policyName: string, policy: RateLimitPolicy) {
    this.policyName = policyName;
    this.policy = policy;
    this.windowSeconds = Math.round(policy.capacity / policy.refillPerSecond);
    // a bucket that refilled to capacity is the same as no bucket: forget it
    const fullAfterMs = (policy.capacity / policy.refillPerSecond) * 1000;
    this.sweep = setInterval(
      () => {
        const now = Date.now();
        for (const [k, b] of this.buckets) if (now - b.ts >= fullAfterMs) this.buckets.delete(k);
      },
      Math.min(60_000, Math.max(1000, fullAfterMs)),
    ).unref();
  }

  /** Take one token for `subject`. */
  take(subject: string, now = Date.now()): RateLimitResult {
    const { capacity, refillPerSecond } = this.policy;
    const rate = refillPerSecond / 1000;
    let b = this.buckets.get(subject);
    if (!b) {
      if (this.buckets.size >= MAX_BUCKETS) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: capacity, ts: now };
      this.buckets.set(subject, b);
    } else if (now > b.ts) {
      b.tokens = Math.min(capacity, b.tokens + (now - b.ts) * rate);
      b.ts = now;
    }
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    return {
      allowed,
      remaining: Math.floor(b.tokens),
      limit: capacity,
      retryAfterMs: allowed ? 0 : Math.ceil((1 - b.tokens) / rate),
      resetMs: Math.ceil((capacity - b.tokens) / rate),
      policy: this.policyName,
      windowSeconds: this.windowSeconds,
    };
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
