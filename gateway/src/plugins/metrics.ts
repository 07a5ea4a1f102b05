/** HTTP metrics for every route (and the original engine's order latency on the order routes), and GET /metrics. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type GatewayContext, global } from '../context.ts';
import { ORDER_ROUTES, routeSchemas } from '../route-schemas.ts';

const START = Symbol('start');
const ROUTE = Symbol('route');
type Timed = FastifyRequest & { [START]?: bigint; [ROUTE]?: string };

const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? 'unmatched';

/** The order routes' latency is also `gateway_request_duration_seconds` (the seed's name). */
const ORDER_ROUTE_SET: ReadonlySet<string> = new Set(Object.values(ORDER_ROUTES));

export const metricsPlugin = (ctx: GatewayContext) =>
  global(async (app: FastifyInstance) => {
    const m = ctx.metrics;
    app.addHook('onRequest', (req, _reply, next) => {
      const r = req as Timed;
      r[START] = process.hrtime.bigint();
      r[ROUTE] = routeOf(req);
      m.inProgress.enter(req.method, r[ROUTE]);
      next();
    });
    const done = (req: FastifyRequest, statusCode: number, size: number) => {
      const r = req as Timed;
      if (r[START] === undefined) return;
      const route = r[ROUTE] ?? routeOf(req);
      const seconds = Number(process.hrtime.bigint() - r[START]) / 1e9;
      r[START] = undefined;
      const status = String(statusCode);
      const labels = { method: req.method, route, status_code: status };
      m.inProgress.leave(req.method, route);
      m.httpRequestDuration.observe(labels, seconds);
      if (size >= 0) m.httpResponseSize.observe(labels, size);
      if (ORDER_ROUTE_SET.has(route)) m.requestDuration.observe({ route, status_code: status }, seconds);
    };
    app.addHook('onResponse', (req, reply, next) => {
      const len = Number(reply.getHeader('content-length') ?? -1);
      done(req, reply.statusCode, Number.isFinite(len) ? len : -1);
      next();
    });
    // Hijacked replies (SSE) skip onResponse: their route reports the end of the stream itself.
    ctx.finishHttp = done;

    app.get('/metrics', { schema: routeSchemas.metrics }, async (_req, reply) => {
      const body = await m.registry.metrics();
      return reply.type(m.registry.contentType).send(body);
    });
  });
