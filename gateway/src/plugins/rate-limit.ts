/**
 * Rate limiting as route hooks: per client IP before the body is read (onRequest; in this process on the order
 * routes, in Redis on the read routes), per user in the order's admission script (gateway/src/orders/admission.ts).
 * The headers of the most restrictive bucket a request touched are sent with every answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitPolicy } from '../config.ts';
import { type GatewayContext, global } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { LocalRateLimiter } from '../local-rate-limit.ts';
import { type RateLimitResult, rateLimitHeaders } from '../rate-limit.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** the most restrictive bucket this request touched (its headers go on the answer); null: none */
    rateLimit: RateLimitResult | null;
  }
}

export const rateLimitPlugin = (_ctx: GatewayContext) =>
  global(async (app: FastifyInstance) => {
    // a request property, not a WeakMap keyed by request: cheaper per request, and nothing for the GC to trace
    app.decorateRequest('rateLimit', null);
    app.addHook('onSend', (req, reply, payload, done) => {
      const r = req.rateLimit;
      if (r) reply.headers(rateLimitHeaders(r));
      done(null, payload);
    });
  });

/** Keep `r` for the answer's headers if it is the most restrictive so far; throws 429 RATE_LIMITED when empty. */
export function applyRateLimit(ctx: GatewayContext, req: FastifyRequest, r: RateLimitResult): void {
  const prev = req.rateLimit;
  if (!prev || !r.allowed || (prev.allowed && r.remaining < prev.remaining)) req.rateLimit = r;
  if (!r.allowed) {
    ctx.metrics.rateLimited.inc({ policy: r.policy });
    throw new ApiError('RATE_LIMITED', `rate limit "${r.policy}" exceeded; retry after the Retry-After seconds`);
  }
}

/** Take a token from `policy` for `subject` in Redis; throws 429 RATE_LIMITED (or 503 when fail-closed and Redis is down). */
export async function enforceRateLimit(
  ctx: GatewayContext,
  req: FastifyRequest,
  policyName: string,
  policy: RateLimitPolicy,
  subject: string,
): Promise<void> {
  if (!ctx.config.rateLimit.enabled) return;
  let r: RateLimitResult | null;
  try {
    r = await ctx.limiter.take(policyName, policy, subject);
  } catch {
    throw new ApiError('DEPENDENCY_UNAVAILABLE', 'rate limiter unavailable; retry later', {
      headers: { 'Retry-After': '1' },
    });
  }
  if (r) applyRateLimit(ctx, req, r);
}

/** An onRequest hook limiting by client IP in Redis (X-Forwarded-For honoured only from TRUSTED_PROXIES). */
export const ipRateLimit =
  (ctx: GatewayContext, policyName: string, policy: RateLimitPolicy) =>
  async (req: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    await enforceRateLimit(ctx, req, policyName, policy, req.ip);
  };

/** The same by a bucket of this process (no Redis, never fails): the order routes' per-IP limit. */
export const localIpRateLimit =
  (ctx: GatewayContext, limiter: LocalRateLimiter) =>
  (req: FastifyRequest): void => {
    if (ctx.config.rateLimit.enabled) applyRateLimit(ctx, req, limiter.take(req.ip));
  };
