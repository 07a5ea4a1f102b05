/**
 * GET /v1/orders/:order_id and its Server-Sent Events stream (until a final status). With an identity source (header
 * or jwt) both require the buyer, and an order of another buyer is answered 404 like one that does not exist: its
 * existence is not told (the owner is compared on the record already read, no extra Redis call).
 */
import {
  isFinalStatus,
  isRefundDue,
  itemOfOrderId,
  type OrderStatus,
  type OrderView,
  orderStatusSchema,
  readOrder,
} from '@flashsale/common';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { GatewayContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { identityRouteSchemas } from '../route-schemas.ts';
import { authenticate } from './identity.ts';
import { ipRateLimit } from './rate-limit.ts';

const isoOf = (ms: string | undefined) => {
  const n = Number(ms);
  return ms && Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : undefined;
};

export function toView(orderId: string, h: Record<string, string>): OrderView {
  const status = orderStatusSchema.safeParse(h.status);
  const v: OrderView = {
    order_id: orderId,
    status: status.success ? status.data : 'QUEUED',
    item_id: itemOfOrderId(orderId),
  };
  if (h.user_id) v.user_id = h.user_id;
  if (h.quantity) v.quantity = Number(h.quantity);
  if (h.reason) v.reason = h.reason;
  const hold = isoOf(h.hold_expires_at);
  if (hold) v.hold_expires_at = hold;
  const upd = isoOf(h.updated_at);
  if (upd) v.updated_at = upd;
  return v;
}

export const statusPlugin = (ctx: GatewayContext) => async (fastify: FastifyInstance) => {
  // the route schemas validate the order id (400 before the handler) and type req.params
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const sale = ctx.config.sale.name;
  /** the order as `buyer` may see it: null when absent or (with an identity source) another buyer's */
  const read = async (orderId: string, buyer: string | null): Promise<OrderView | null> => {
    const h = await readOrder(ctx.redis, sale, itemOfOrderId(orderId), orderId);
    if (!h || (buyer !== null && h.user_id !== buyer)) return null;
    return toView(orderId, h);
  };
  const limit = { onRequest: [ipRateLimit(ctx, 'read-ip', ctx.config.rateLimit.readIp), authenticate(ctx)] };
  const schemas = identityRouteSchemas(ctx.config.identity);

  app.get('/v1/orders/:order_id', { ...limit, schema: schemas.orderStatus }, async (req, reply) => {
    const orderId = req.params.order_id;
    const view = await read(orderId, req.buyer);
    if (!view) throw new ApiError('NOT_FOUND', `order "${orderId}" not found`);
    return reply.header('Cache-Control', 'no-store').send(view);
  });

  app.get('/v1/orders/:order_id/events', { ...limit, schema: schemas.orderEvents }, async (req, reply) => {
    const orderId = req.params.order_id;
    const buyer = req.buyer;
    let last: OrderStatus | undefined;
    let ended = false;
    let unwatch: (() => void) | undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const raw = reply.raw;

    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(heartbeat);
      clearTimeout(deadline);
      unwatch?.();
      ctx.streams.delete(end);
      if (!raw.writableEnded) raw.end();
      ctx.finishHttp?.(req, 200, -1);
    };
    const push = (view: OrderView) => {
      if (ended || view.status === last) return;
      last = view.status;
      raw.write(`id: ${view.status}\nevent: status\ndata: ${JSON.stringify(view)}\n\n`);
      // EXPIRED charged after the hold expired: the processor's refund follows (REFUNDED), so the stream waits for it
      if (isFinalStatus(view.status) && !isRefundDue(view.status, view.reason)) end();
    };
    // Subscribe before the first read, so a change between the two is not missed.
    let pending = Promise.resolve();
    const onChange = () => {
      pending = pending
        .then(async () => {
          const v = await read(orderId, buyer);
          if (v) push(v);
        })
        .catch(() => {});
    };
    unwatch = await ctx.sale.watchStatus(orderId, onChange);
    let first: OrderView | null;
    try {
      first = await read(orderId, buyer);
    } catch (e) {
      unwatch();
      throw e;
    }
    if (!first) {
      unwatch();
      throw new ApiError('NOT_FOUND', `order "${orderId}" not found`);
    }

    reply.hijack();
    raw.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'X-Correlation-ID': String(req.id),
    });
    raw.write(`retry: 2000\n\n`);
    ctx.streams.add(end);
    raw.on('close', end);
    heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), ctx.config.sse.heartbeatMs).unref();
    deadline = setTimeout(end, ctx.config.sse.maxDurationMs).unref();
    push(first);
  });
};
