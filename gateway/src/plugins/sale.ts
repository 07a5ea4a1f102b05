/** GET /v1/sale: the window, its state and remaining stock per item, from the gateway's cache. */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import type { GatewayContext } from '../context.ts';
import { routeSchemas } from '../route-schemas.ts';
import type { saleView } from '../schemas.ts';
import { ipRateLimit } from './rate-limit.ts';

export const salePlugin = (ctx: GatewayContext) => async (app: FastifyInstance) => {
  const s = ctx.sale;
  app.addHook('onClose', async () => s.stop());
  const opts = { schema: routeSchemas.sale, onRequest: ipRateLimit(ctx, 'read-ip', ctx.config.rateLimit.readIp) };
  app.get('/v1/sale', opts, async (_req, reply) => {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const body: z.infer<typeof saleView> = {
      sale: s.sale,
      state: s.phase(),
      starts_at: iso(s.startsAt),
      ends_at: iso(s.endsAt),
      items: [...s.items.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([item_id, st]) => ({
          item_id,
          remaining: Math.max(0, st.remaining),
          sold_out: st.remaining <= 0,
          per_user_limit: st.perUserLimit,
        })),
      updated_at: s.lastRefreshAt ? new Date(s.lastRefreshAt).toISOString() : null,
    };
    return reply.header('Cache-Control', 'public, max-age=1').send(body);
  });
};
