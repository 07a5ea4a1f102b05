/** Assembly: clients, state and one fastify plugin per concern. `buildGateway` builds; `startGateway` listens. */
import { randomUUID } from 'node:crypto';
import { checkTlsAtStartup, createLogger, createRedis, topics } from '@flashsale/common';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { serializerCompiler } from 'fastify-type-provider-zod';
import type { GatewayConfig } from './config.ts';
import type { GatewayContext } from './context.ts';
import { BuyerIdentity } from './identity/buyer.ts';
import { OrderProducer } from './kafka/producer.ts';
import { LocalRateLimiter } from './local-rate-limit.ts';
import { createMetrics } from './metrics.ts';
import { registerOpenApi } from './openapi.ts';
import { corePlugin } from './plugins/core.ts';
import { healthPlugin } from './plugins/health.ts';
import { identityPlugin } from './plugins/identity.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { ordersPlugin } from './plugins/orders.ts';
import { rateLimitPlugin } from './plugins/rate-limit.ts';
import { salePlugin } from './plugins/sale.ts';
import { statusPlugin } from './plugins/status.ts';
import { RateLimiter } from './rate-limit.ts';
import { routeSchemas } from './route-schemas.ts';
import { routeValidatorCompiler } from './route-validator.ts';
import { SaleState } from './sale-state.ts';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface Gateway {
  app: FastifyInstance;
  ctx: GatewayContext;
  /** connect Kafka, load the sale state (idempotent; `startGateway` calls it) */
  init(): Promise<void>;
  /**
   * Graceful stop: readiness fails, no new connections, in-flight requests finish (up to the shutdown timeout),
   * SSE streams end, the producer flushes, clients disconnect.
   */
  close(): Promise<void>;
}

/** The Lua scripts the gateway calls (admission, stored answers, cancel on a failed send, the route rate limits). */
const GATEWAY_SCRIPTS = ['order_admit', 'order_answers_store', 'order_cancel', 'rate_limit'] as const;

export async function buildGateway(config: GatewayConfig): Promise<Gateway> {
  const log = createLogger('gateway', config.logLevel);
  // read-only (after a sale): order status from Redis only; Kafka is never reached, so it may be gone
  const readOnly = config.mode === 'read-only';
  // a certificate the configured trust does not accept stops start-up here (the clients would retry it forever)
  await checkTlsAtStartup(log, [
    { target: 'REDIS', endpoints: config.redis.nodes, tls: config.redis.tls },
    ...(readOnly ? [] : [{ target: 'KAFKA' as const, endpoints: config.kafka.brokers, tls: config.kafka.tls }]),
  ]);
  const redisOpts = { commandTimeout: config.redis.commandTimeoutMs, maxRetriesPerRequest: 2 };
  const redis = createRedis(config.redis, redisOpts, {}, GATEWAY_SCRIPTS);
  const sub = createRedis(config.redis, { maxRetriesPerRequest: null }, {}, []);
  for (const [name, c] of [
    ['redis', redis],
    ['redis_subscriber', sub],
  ] as const) {
    let last = 0;
    c.on('error', (err: Error) => {
      const now = Date.now();
      if (now - last > 5000) {
        last = now;
        log.warn({ event: 'redis_error', connection: name, err: err.message }, 'Redis connection error');
      }
    });
  }
  const metrics = createMetrics();
  const producer = new OrderProducer(
    {
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      tls: config.kafka.tls,
      sasl: config.kafka.sasl,
      topic: topics(config.sale.name).orders,
      sendTimeoutMs: config.kafka.sendTimeoutMs,
      batchMax: config.kafka.batchMax,
      lingerMs: config.kafka.lingerMs,
      breaker: config.breaker,
    },
    log.child({ component: 'producer' }),
  );
  producer.breaker.on('state', (state, info) => {
    metrics.circuitBreakerState.set(producer.breaker.stateValue);
    const fields = { event: 'circuit_breaker_state', state, ...info };
    if (state === 'open') log.error(fields, `Circuit breaker open for ${info.openForMs} ms`);
    else log.warn(fields, `Circuit breaker ${state}`);
  });
  metrics.circuitBreakerState.set(0);

  const ctx: GatewayContext = {
    config,
    log,
    redis,
    sub,
    producer,
    metrics,
    limiter: new RateLimiter(redis, config.sale.name, config.rateLimit.failOpen, log),
    orderIpLimiter: new LocalRateLimiter('order-ip', config.rateLimit.orderIp),
    sale: new SaleState(
      {
        sale: config.sale.name,
        startsAt: config.sale.startsAt,
        endsAt: config.sale.endsAt,
        pollMs: config.stockPollIntervalMs,
        subscribeTimeoutMs: config.redis.commandTimeoutMs,
      },
      redis,
      sub,
      log,
    ),
    identity: new BuyerIdentity(config.identity, config.trustedProxies, log),
    closing: false,
    streams: new Set(),
  };

  const app = Fastify({
    loggerInstance: log,
    // One log line per order (event order_queued etc.) instead of two per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'correlation_id' }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-correlation-id'];
      const v = Array.isArray(h) ? h[0] : h;
      return v && CORRELATION_ID.test(v) ? v : randomUUID();
    },
    return503OnClosing: true,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { maxParamLength: 200 },
  }) as unknown as FastifyInstance;

  // Routes validate and serialize with their zod schemas (route-schemas.ts); the OpenAPI document is generated
  // from the same schemas, so it is registered before any route.
  app.setValidatorCompiler(routeValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await registerOpenApi(app, config.identity);
  await app.register(corePlugin(ctx));
  await app.register(metricsPlugin(ctx));
  await app.register(rateLimitPlugin(ctx));
  await app.register(identityPlugin(ctx));
  await app.register(healthPlugin(ctx));
  await app.register(salePlugin(ctx));
  await app.register(ordersPlugin(ctx));
  await app.register(statusPlugin(ctx));
  app.get('/openapi.json', { schema: routeSchemas.openapi }, async () => app.swagger());
  app.addHook('preClose', async () => {
    for (const end of [...ctx.streams]) end();
  });
  // While draining, every answer closes its connection, so keep-alive clients move to another instance.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (ctx.closing) reply.header('Connection', 'close');
    done(null, payload);
  });

  let initialized: Promise<void> | undefined;
  const init = () => {
    initialized ??= Promise.all([readOnly ? undefined : producer.start(), ctx.sale.start(), ctx.identity.start()]).then(
      () => {},
    );
    return initialized;
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ctx.closing = true;
      const started = Date.now();
      let t: NodeJS.Timeout | undefined;
      // Connections busy when the server stopped listening become idle later: close them as they do.
      const sweep = setInterval(() => app.server.closeIdleConnections?.(), 100);
      const drained = await Promise.race([
        app.close().then(() => true),
        new Promise<boolean>((resolve) => {
          t = setTimeout(() => resolve(false), config.shutdownTimeoutMs);
        }),
      ]);
      clearTimeout(t);
      clearInterval(sweep);
      if (!drained) log.warn({ event: 'shutdown_timeout' }, 'In-flight requests did not finish in time');
      await producer.close();
      ctx.sale.stop();
      ctx.orderIpLimiter.close();
      ctx.identity.stop();
      // QUIT waits for Redis; when it is unreachable, give up after 2 s and drop the connections.
      await Promise.race([
        Promise.allSettled([redis.quit(), sub.quit()]),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      redis.disconnect();
      sub.disconnect();
      log.info({ event: 'shutdown_complete', duration_ms: Date.now() - started }, 'Gateway stopped');
    })();
    return closing;
  };

  return { app, ctx, init, close };
}

export async function startGateway(config: GatewayConfig): Promise<Gateway & { url: string }> {
  const gw = await buildGateway(config);
  await gw.init();
  const address = await gw.app.listen({ port: config.port, host: config.host });
  gw.ctx.log.info(
    { event: 'gateway_started', address, sale: config.sale.name, mode: config.mode },
    config.mode === 'read-only' ? 'Gateway listening (read-only: order status only)' : 'Gateway listening',
  );
  return { ...gw, url: address };
}
