/**
 * /livez: the process answers (nothing external: Kubernetes liveness must not restart pods because Redis blinked).
 * /ready: Redis and Kafka checked in parallel; 503 while either is down or shutdown began.
 * /health: the runbook's JSON {status, redis, kafka, circuit_breaker_state}, 200 or 503.
 * Read-only (GATEWAY_MODE=read-only, after a sale): Redis alone decides; Kafka is not checked (`kafka: false`) and
 * both answers say `mode: "read-only"`.
 */
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../context.ts';
import { routeSchemas } from '../route-schemas.ts';

export const healthPlugin = (ctx: GatewayContext) => async (app: FastifyInstance) => {
  const timeoutMs = ctx.config.healthCheckTimeoutMs;
  const withTimeout = <T>(p: Promise<T>, fallback: T): Promise<T> => {
    let t: NodeJS.Timeout | undefined;
    return Promise.race([
      p.catch(() => fallback),
      new Promise<T>((resolve) => {
        t = setTimeout(() => resolve(fallback), timeoutMs);
      }),
    ]).finally(() => clearTimeout(t));
  };
  // One probe at a time, shared by concurrent callers, cached briefly: probes cannot amplify load.
  const readOnly = ctx.config.mode === 'read-only';
  const mode = readOnly ? { mode: 'read-only' as const } : {};
  let cached: { at: number; value: Promise<{ redis: boolean; kafka: boolean }> } | undefined;
  const check = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 500) {
      cached = {
        at: now,
        value: Promise.all([
          withTimeout(
            ctx.redis.ping().then((r) => r === 'PONG'),
            false,
          ),
          readOnly ? false : withTimeout(ctx.producer.ping(timeoutMs), false),
        ]).then(([redis, kafka]) => ({ redis, kafka })),
      };
    }
    return cached.value;
  };

  app.get('/livez', { schema: routeSchemas.livez }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: routeSchemas.ready }, async (_req, reply) => {
    const c = await check();
    const ready = c.redis && (c.kafka || readOnly) && !ctx.closing;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', ...c, ...mode });
  });

  app.get('/health', { schema: routeSchemas.health }, async (_req, reply) => {
    const c = await check();
    const state = ctx.producer.breakerState;
    const healthy = c.redis && ((c.kafka && state !== 'open') || readOnly);
    return reply.code(healthy ? 200 : 503).send({
      status: healthy ? 'healthy' : 'unhealthy',
      redis: c.redis,
      kafka: c.kafka,
      circuit_breaker_state: state,
      ...mode,
    });
  });
};
