/**
 * The buyer's identity on the request (`req.buyer`): set by the `authenticate` hook of the order and status routes,
 * after their per-IP bucket and before the body is read; null with IDENTITY_SOURCE=body (the body's user_id is then
 * the buyer, as sent).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type GatewayContext, global } from '../context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** the authenticated buyer (identity/buyer.ts); null when the identity source is the body */
    buyer: string | null;
  }
}

export const identityPlugin = (_ctx: GatewayContext) =>
  global(async (app: FastifyInstance) => {
    app.decorateRequest('buyer', null);
  });

/** An onRequest hook: 401 without a trusted identity (header or jwt source), nothing with the body source. */
export const authenticate =
  (ctx: GatewayContext) =>
  async (req: FastifyRequest): Promise<void> => {
    if (ctx.identity.required) req.buyer = (await ctx.identity.of(req)) ?? null;
  };
