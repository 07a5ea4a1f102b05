/**
 * POST /v1/orders (and the original engine's POST /buy): validate, rate limit, sale window, sold-out fast path,
 * per-user limit, idempotency, order record (QUEUED), Kafka (acknowledged), 202.
 */
import {
  callScript,
  channels,
  itemKeys,
  newOrderId,
  ORDER_RECORD_TTL_SECONDS,
  type OrderMessage,
  type OrderStatus,
} from '@flashsale/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { ApiError, isRedisError, toApiError, zodFieldErrors } from '../errors.ts';
import { IdempotencyStore } from '../idempotency.ts';
import { BreakerOpenError } from '../kafka/breaker.ts';
import { buyBody, createOrderBody, idempotencyKeySchema } from '../schemas.ts';
import { handleError } from './core.ts';
import { enforceRateLimit, ipRateLimit } from './rate-limit.ts';

interface OrderRequest {
  userId: string;
  itemId: string;
  quantity: number;
  key: string;
}

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseOrder(req: FastifyRequest, legacy: boolean): OrderRequest {
  const headerKey = headerValue(req, 'idempotency-key');
  const errors: { path: string; message: string }[] = [];
  let key: string | undefined;
  if (headerKey !== undefined) {
    const k = idempotencyKeySchema.safeParse(headerKey);
    if (k.success) key = k.data;
    else errors.push(...zodFieldErrors(k.error, 'header.Idempotency-Key'));
  }
  const body = (legacy ? buyBody : createOrderBody).safeParse(req.body);
  if (!body.success) errors.push(...zodFieldErrors(body.error, 'body'));
  if (errors.length > 0 || !body.success) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', { errors });
  }
  const b = body.data;
  const quantity = 'amount' in b ? b.amount : b.quantity;
  if (b.request_id !== undefined && key !== undefined && b.request_id !== key) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', {
      errors: [{ path: 'body.request_id', message: 'differs from the Idempotency-Key header' }],
    });
  }
  key = key ?? b.request_id;
  if (key === undefined) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', {
      errors: [{ path: 'header.Idempotency-Key', message: 'an Idempotency-Key header or a request_id is required' }],
    });
  }
  return { userId: b.user_id, itemId: b.item_id, quantity, key };
}

export const ordersPlugin = (ctx: GatewayContext) => async (app: FastifyInstance) => {
  const { config, metrics: m, sale, idempotency, producer } = ctx;
  const saleName = config.sale.name;
  const statusChannel = channels(saleName).status;

  /** errors already counted in gateway_orders_failed_total */
  const counted = new WeakSet<object>();
  const refuse = (err: ApiError): never => {
    m.ordersFailed.inc({ reason: err.code });
    counted.add(err);
    throw err;
  };

  async function handle(req: FastifyRequest, reply: FastifyReply, legacy: boolean) {
    const started = process.hrtime.bigint();
    const route = req.routeOptions.url ?? '';
    reply.raw.once('finish', () => {
      m.requestDuration.observe(
        { route, status_code: String(reply.statusCode) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });

    let o: OrderRequest;
    try {
      o = parseOrder(req, legacy);
    } catch (e) {
      m.ordersValidationFailed.inc();
      return refuse(e as ApiError);
    }
    req.log.debug(
      { event: 'order_received', user_id: o.userId, item_id: o.itemId, quantity: o.quantity },
      'Order received',
    );
    // Sale window and sold-out fast path: answered locally, no Redis or Kafka round trip (and no user token taken).
    const now = Date.now();
    const phase = sale.phase(now);
    if (phase === 'scheduled') {
      const wait = Math.max(1, Math.ceil(((sale.startsAt ?? now) - now) / 1000));
      return refuse(
        new ApiError('SALE_NOT_STARTED', `the sale starts at ${new Date(sale.startsAt ?? now).toISOString()}`, {
          headers: { 'Retry-After': String(wait) },
        }),
      );
    }
    if (phase === 'ended') return refuse(new ApiError('SALE_ENDED', 'the sale has ended'));
    if (sale.isUnknownItem(o.itemId)) {
      return refuse(new ApiError('NOT_FOUND', `item "${o.itemId}" is not part of this sale`));
    }
    if (sale.isSoldOut(o.itemId)) {
      // The buyer who got a unit may retry (lost answer, double click): a read of the completed record, never a
      // write, a script or Kafka, answers them with their order instead of telling them it is sold out.
      const done = await idempotency
        .completed(o.userId, o.key, IdempotencyStore.fingerprint([o.userId, o.itemId, o.quantity]))
        .catch(() => null);
      if (done) {
        m.ordersIdempotencyRejected.inc({ outcome: 'replayed' });
        return reply
          .code(done.statusCode)
          .header('Idempotent-Replayed', 'true')
          .type('application/json; charset=utf-8')
          .send(done.body);
      }
      m.soldOutFastPath.inc();
      return refuse(new ApiError('SOLD_OUT', `item "${o.itemId}" is sold out`));
    }
    const limit = sale.perUserLimit(o.itemId);
    if (limit > 0 && o.quantity > limit) {
      return refuse(new ApiError('LIMIT_EXCEEDED', `at most ${limit} unit(s) of "${o.itemId}" per user`));
    }
    try {
      const orderId = newOrderId(saleName, o.itemId, o.userId, o.key);
      const fp = IdempotencyStore.fingerprint([o.userId, o.itemId, o.quantity]);
      const userUnits = itemKeys(saleName, o.itemId).user(o.userId);
      // One round trip for three independent reads: the user's bucket, the idempotency claim, the user's units.
      const [rl, claimed, ownedRead] = await Promise.allSettled([
        enforceRateLimit(ctx, req, 'order-user', config.rateLimit.orderUser, o.userId),
        idempotency.begin(o.userId, o.key, fp, orderId),
        limit > 0 ? ctx.redis.get(userUnits) : Promise.resolve(null),
      ]);
      if (rl.status === 'rejected') {
        if (claimed.status === 'fulfilled' && claimed.value.kind === 'new') {
          idempotency.release(o.userId, o.key, orderId).catch(() => false);
        }
        return refuse(rl.reason as ApiError);
      }
      if (claimed.status === 'rejected') throw claimed.reason;
      const claim = claimed.value;
      if (claim.kind === 'done') {
        m.ordersIdempotencyRejected.inc({ outcome: 'replayed' });
        return reply
          .code(claim.statusCode)
          .header('Idempotent-Replayed', 'true')
          .type('application/json; charset=utf-8')
          .send(claim.body);
      }
      if (claim.kind === 'inflight') {
        m.ordersIdempotencyRejected.inc({ outcome: 'in_flight' });
        return refuse(
          new ApiError('DUPLICATE_IN_FLIGHT', 'a request with this idempotency key is still being processed', {
            headers: { 'Retry-After': '1' },
          }),
        );
      }
      if (claim.kind === 'mismatch') {
        m.ordersIdempotencyRejected.inc({ outcome: 'key_reused' });
        return refuse(
          new ApiError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was used with a different request body'),
        );
      }

      // Kafka is known to be down: free the key at once, the client retries after Retry-After.
      if (producer.breakerState === 'open') {
        await idempotency.release(o.userId, o.key, orderId).catch(() => false);
        return refuse(brokerUnavailable(producer.breaker.retryAfterMs));
      }
      // Units the user already holds or bought count against the limit (checked after the claim, so a replay of
      // the order that bought them is still answered with its 202).
      if (limit > 0) {
        if (ownedRead.status === 'rejected') {
          await idempotency.release(o.userId, o.key, orderId).catch(() => false);
          throw ownedRead.reason;
        }
        const owned = Number(ownedRead.value ?? 0);
        if (owned + o.quantity > limit) {
          await idempotency.release(o.userId, o.key, orderId).catch(() => false);
          return refuse(new ApiError('LIMIT_EXCEEDED', `at most ${limit} unit(s) of "${o.itemId}" per user`));
        }
      }

      const k = itemKeys(saleName, o.itemId);
      let status: OrderStatus = 'QUEUED';
      let sending = false;
      try {
        const q = (await callScript(
          ctx.redis,
          'order_queue',
          [k.order(orderId)],
          [
            'queue',
            orderId,
            o.itemId,
            o.userId,
            o.quantity,
            String(req.id),
            o.key,
            now,
            ORDER_RECORD_TTL_SECONDS,
            statusChannel,
          ],
        )) as [number, string];
        status = q[1] as OrderStatus;
        // A stored order past QUEUED (the idempotency record expired meanwhile) is answered, not re-sent.
        if (status === 'QUEUED') {
          const msg: OrderMessage = {
            v: 1,
            order_id: orderId,
            sale: saleName,
            item_id: o.itemId,
            user_id: o.userId,
            quantity: o.quantity,
            request_id: o.key,
            correlation_id: String(req.id),
            created_at: new Date(now).toISOString(),
          };
          sending = true;
          await producer.send(msg);
        }
      } catch (e) {
        await Promise.allSettled([
          callScript(ctx.redis, 'order_queue', [k.order(orderId)], ['cancel', orderId, o.key]),
          idempotency.release(o.userId, o.key, orderId),
        ]);
        if (!sending) throw e;
        const retryMs = e instanceof BreakerOpenError ? e.retryAfterMs : 1000;
        req.log.warn(
          { event: 'order_not_queued', err: (e as Error).message, order_id: orderId, breaker: producer.breakerState },
          'Kafka did not acknowledge the order',
        );
        return refuse(brokerUnavailable(retryMs));
      }

      const body = JSON.stringify({ order_id: orderId, status, correlation_id: String(req.id) });
      // Not awaited: commands on one connection (and one key's node) run in order, so a retry that arrives after
      // this 202 finds the completed record; if the write fails, the pending claim expires (IDEMPOTENCY_PENDING_TTL).
      idempotency.complete(o.userId, o.key, orderId, 202, body).catch(() => false);
      m.ordersSuccessful.inc();
      req.log.info(
        {
          event: 'order_queued',
          order_id: orderId,
          user_id: o.userId,
          item_id: o.itemId,
          quantity: o.quantity,
          processing_time_ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'Order queued successfully',
      );
      return reply
        .code(202)
        .header('Location', `/v1/orders/${orderId}`)
        .type('application/json; charset=utf-8')
        .send(body);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      if (isRedisError(e)) {
        return refuse(
          new ApiError('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', {
            headers: { 'Retry-After': '1' },
          }),
        );
      }
      m.ordersFailed.inc({ reason: 'INTERNAL' });
      if (typeof e === 'object' && e !== null) counted.add(e);
      throw e;
    }
  }

  const ipLimit = ipRateLimit(ctx, 'order-ip', config.rateLimit.orderIp);
  const opts = {
    // every order request counts as received, also those refused by the IP bucket or the body parser
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      m.ordersReceived.inc();
      await ipLimit(req, reply);
    },
    errorHandler: (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
      if (typeof err !== 'object' || err === null || !counted.has(err)) {
        const api = toApiError(err);
        // the body parser's refusals (not JSON, too large, wrong type) are validation failures too
        if (
          api.code === 'VALIDATION_FAILED' ||
          api.code === 'PAYLOAD_TOO_LARGE' ||
          api.code === 'UNSUPPORTED_MEDIA_TYPE'
        ) {
          m.ordersValidationFailed.inc();
        }
        m.ordersFailed.inc({ reason: api.code });
      }
      return handleError(err, req, reply);
    },
  };
  app.post('/v1/orders', opts, (req, reply) => handle(req, reply, false));
  app.post('/buy', opts, (req, reply) => handle(req, reply, true));
};

function brokerUnavailable(retryAfterMs: number): ApiError {
  return new ApiError('BROKER_UNAVAILABLE', 'orders cannot be queued right now; retry later with the same key', {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
}
