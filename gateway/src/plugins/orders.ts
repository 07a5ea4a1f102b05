/**
 * POST /v1/orders (and the original engine's POST /buy). An order's steps, one file each under gateway/src/orders/:
 *
 *   0. per-IP bucket of this process, before the body is read (plugins/rate-limit.ts, local-rate-limit.ts), then
 *      the buyer's identity when one is configured (identity/buyer.ts: a trusted proxy's header or a verified JWT)
 *   1. parse.ts         validation of the body and the idempotency key
 *   2. local-checks.ts  sale window, unknown item, sold-out flag, quantity above the per-user limit (no Redis)
 *   3. admission.ts     one Redis script (shared by the orders of an item in one event-loop turn): user bucket,
 *                       idempotency, per-user limit, QUEUED record (the claim)
 *   4. placement.ts     Kafka (acks=all), then the 202 stored for replays; or the record cancelled and 503
 *
 * This file wires them to the routes: metrics, the answers of each outcome, errors. The route schemas validate the body
 * and the headers before step 1; the latency histograms are observed for every route in plugins/metrics.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { ApiError, isRedisError, toApiError } from '../errors.ts';
import { Admission } from '../orders/admission.ts';
import { checkLocally, limitExceeded } from '../orders/local-checks.ts';
import { type OrderRequest, parseOrder } from '../orders/parse.ts';
import { brokerUnavailable, Placement } from '../orders/placement.ts';
import { identityRouteSchemas, ORDER_ROUTES } from '../route-schemas.ts';
import { handleError } from './core.ts';
import { authenticate } from './identity.ts';
import { applyRateLimit, localIpRateLimit } from './rate-limit.ts';

export const ordersPlugin = (ctx: GatewayContext) => async (app: FastifyInstance) => {
  const { config, metrics: m, sale, producer } = ctx;
  const admission = new Admission(ctx.redis, {
    sale: config.sale.name,
    userPolicy: config.rateLimit.enabled ? config.rateLimit.orderUser : null,
    pendingTtlMs: config.idempotency.pendingTtlMs,
  });
  const placement = new Placement(
    ctx.redis,
    producer,
    { sale: config.sale.name, answerTtlMs: config.idempotency.ttlMs },
    ctx.log.child({ component: 'orders' }),
  );

  /** errors already counted in gateway_orders_failed_total */
  const counted = new WeakSet<object>();
  const refuse = (err: ApiError): never => {
    m.ordersFailed.inc({ reason: err.code });
    counted.add(err);
    throw err;
  };
  const replay = (reply: FastifyReply, body: string) => {
    m.ordersIdempotencyRejected.inc({ outcome: 'replayed' });
    return reply.code(202).header('Idempotent-Replayed', 'true').type('application/json; charset=utf-8').send(body);
  };

  async function place(req: FastifyRequest, reply: FastifyReply, o: OrderRequest, started: bigint) {
    // the read-only gateway of a sale that ended: no Kafka behind it, whatever the clock says
    if (config.mode === 'read-only')
      throw new ApiError('SALE_ENDED', 'the sale has ended; order status stays readable');
    const now = Date.now();
    const local = checkLocally(sale, o, now);
    const orderId = admission.orderId(o);
    if (local.kind === 'sold-out') {
      // The buyer who got a unit may retry (lost answer, double click): one read of the stored answer, never a
      // write, a script or Kafka, answers them with their order instead of telling them it is sold out.
      const body = await admission.storedAnswer(o).catch(() => null);
      if (body !== null) return replay(reply, body);
      m.soldOutFastPath.inc();
      throw new ApiError('SOLD_OUT', `item "${o.itemId}" is sold out`);
    }
    const correlationId = String(req.id);
    const a = await admission.admit(o, {
      orderId,
      correlationId,
      now,
      perUserLimit: local.perUserLimit,
      brokerOpen: producer.breakerState === 'open',
    });
    if (a.bucket) applyRateLimit(ctx, req, a.bucket);
    let status = 'QUEUED';
    switch (a.kind) {
      case 'replay':
        return replay(reply, a.body);
      case 'inflight':
        m.ordersIdempotencyRejected.inc({ outcome: 'in_flight' });
        throw new ApiError('DUPLICATE_IN_FLIGHT', 'a request with this idempotency key is still being processed', {
          headers: { 'Retry-After': '1' },
        });
      case 'mismatch':
        m.ordersIdempotencyRejected.inc({ outcome: 'key_reused' });
        throw new ApiError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was used with a different request body');
      case 'broker':
        throw brokerUnavailable(producer.breaker.retryAfterMs);
      case 'limit':
        throw limitExceeded(o.itemId, local.perUserLimit);
      case 'exists':
        // already past QUEUED: it reached Kafka once; answered, not re-sent
        status = a.status;
        break;
      case 'limited': // applyRateLimit threw
        throw new Error('order_admit: empty bucket without a bucket result');
      default:
        await placement.send(o, orderId, correlationId, now);
    }
    const body = JSON.stringify({ order_id: orderId, status, correlation_id: correlationId });
    placement.storeAnswer(o, orderId, body);
    m.ordersSuccessful.inc();
    // the log object is built only when the level writes it (one per order at info)
    if (ctx.log.isLevelEnabled('info')) {
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
    }
    return reply
      .code(202)
      .header('Location', `/v1/orders/${orderId}`)
      .type('application/json; charset=utf-8')
      .send(body);
  }

  async function handle(req: FastifyRequest, reply: FastifyReply) {
    const started = process.hrtime.bigint();
    let o: OrderRequest;
    try {
      o = parseOrder(req);
    } catch (e) {
      m.ordersValidationFailed.inc();
      return refuse(e as ApiError);
    }
    if (ctx.log.isLevelEnabled('debug')) {
      req.log.debug(
        { event: 'order_received', user_id: o.userId, item_id: o.itemId, quantity: o.quantity },
        'Order received',
      );
    }
    try {
      return await place(req, reply, o, started);
    } catch (e) {
      if (e instanceof ApiError) return refuse(e);
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

  const ipLimit = localIpRateLimit(ctx, ctx.orderIpLimiter);
  const identify = authenticate(ctx);
  // every order request counts as received, also those refused by the IP bucket, the identity or the body parser
  const receive = (req: FastifyRequest) => {
    m.ordersReceived.inc();
    ipLimit(req);
  };
  const opts = {
    // a callback hook unless the identity has to be awaited (a promise and a microtask per request saved)
    onRequest: ctx.identity.required
      ? async (req: FastifyRequest) => {
          receive(req);
          await identify(req);
        }
      : (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
          receive(req);
          done();
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
  // the schemas validate the body and the headers before the handler (route-schemas.ts, the OpenAPI document's source)
  const schemas = identityRouteSchemas(config.identity);
  app.post(ORDER_ROUTES.createOrder, { ...opts, schema: schemas.createOrder }, handle);
  app.post(ORDER_ROUTES.buy, { ...opts, schema: schemas.buy }, handle);
};
