/** The gateway's metrics, registered on one registry per gateway instance (names from common GATEWAY_METRICS). */
import { GATEWAY_METRICS as M } from '@flashsale/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const DURATION_COUNT = `${M.httpRequestDuration}_count`;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * HTTP requests in progress per method and route: a counter per pair on the hot path (two map reads by the strings
 * fastify hands over, whose hashes V8 keeps: no label hashing, no key built per request), read by the gauge when
 * Prometheus scrapes.
 */
export class InProgress {
  private readonly byMethod = new Map<string, Map<string, { labels: { method: string; route: string }; n: number }>>();

  private entry(method: string, route: string) {
    let byRoute = this.byMethod.get(method);
    if (!byRoute) {
      byRoute = new Map();
      this.byMethod.set(method, byRoute);
    }
    let e = byRoute.get(route);
    if (!e) {
      e = { labels: { method, route }, n: 0 };
      byRoute.set(route, e);
    }
    return e;
  }

  enter(method: string, route: string): void {
    this.entry(method, route).n++;
  }

  leave(method: string, route: string): void {
    this.entry(method, route).n--;
  }

  *values() {
    for (const byRoute of this.byMethod.values()) yield* byRoute.values();
  }
}

export function createMetrics(defaultMetrics = true) {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const reg = [registry];
  const inProgress = new InProgress();
  const httpRequestDuration = new Histogram({
    name: M.httpRequestDuration,
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: reg,
  });
  return {
    registry,
    ordersReceived: new Counter({ name: M.ordersReceived, help: 'Total orders received', registers: reg }),
    ordersSuccessful: new Counter({
      name: M.ordersSuccessful,
      help: 'Orders successfully queued (broker acknowledged)',
      registers: reg,
    }),
    ordersFailed: new Counter({
      name: M.ordersFailed,
      help: 'Orders that failed to queue or were refused, by error code',
      labelNames: ['reason'] as const,
      registers: reg,
    }),
    ordersValidationFailed: new Counter({
      name: M.ordersValidationFailed,
      help: 'Order requests refused by validation',
      registers: reg,
    }),
    ordersIdempotencyRejected: new Counter({
      name: M.ordersIdempotencyRejected,
      help: 'Duplicate requests answered from the idempotency record (replay, in flight, key reused)',
      labelNames: ['outcome'] as const,
      registers: reg,
    }),
    requestDuration: new Histogram({
      name: M.requestDuration,
      help: 'Order request processing time',
      labelNames: ['route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: reg,
    }),
    circuitBreakerState: new Gauge({
      name: M.circuitBreakerState,
      help: 'Circuit breaker state (0=closed, 1=open, 2=half-open)',
      registers: reg,
    }),
    rateLimited: new Counter({
      name: M.rateLimited,
      help: 'Requests refused by the rate limiter, by policy',
      labelNames: ['policy'] as const,
      registers: reg,
    }),
    soldOutFastPath: new Counter({
      name: M.soldOutFastPath,
      help: 'Orders refused locally because the item is known to be sold out',
      registers: reg,
    }),
    inProgress,
    httpRequestDuration,
    // every request observed in the duration histogram is one request: the counter is that histogram's count per
    // label set, taken when Prometheus scrapes (one label lookup less per request)
    httpRequests: new Counter({
      name: M.httpRequests,
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: reg,
      async collect() {
        const counts = (await httpRequestDuration.get()).values.filter((v) => v.metricName === DURATION_COUNT);
        this.reset();
        for (const v of counts) this.inc(v.labels as Record<'method' | 'route' | 'status_code', string>, v.value);
      },
    }),
    httpRequestsInProgress: new Gauge({
      name: M.httpRequestsInProgress,
      help: 'HTTP requests in progress by method and route',
      labelNames: ['method', 'route'] as const,
      registers: reg,
      collect() {
        for (const e of inProgress.values()) this.set(e.labels, e.n);
      },
    }),
    httpResponseSize: new Histogram({
      name: M.httpResponseSize,
      help: 'HTTP response size in bytes by method, route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [64, 128, 256, 512, 1024, 4096, 16384, 65536],
      registers: reg,
    }),
  };
}
export type GatewayMetrics = ReturnType<typeof createMetrics>;
