/** The gateway's metrics, registered on one registry per gateway instance (names from common GATEWAY_METRICS). */
import { GATEWAY_METRICS as M } from '@flashsale/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(defaultMetrics = true) {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  const reg = [registry];
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
    httpRequests: new Counter({
      name: M.httpRequests,
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: reg,
    }),
    httpRequestDuration: new Histogram({
      name: M.httpRequestDuration,
      help: 'HTTP request duration by method, route and status',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: LATENCY_BUCKETS,
      registers: reg,
    }),
    httpRequestsInProgress: new Gauge({
      name: M.httpRequestsInProgress,
      help: 'HTTP requests in progress by method and route',
      labelNames: ['method', 'route'] as const,
      registers: reg,
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
