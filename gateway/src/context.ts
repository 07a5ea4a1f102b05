/** What the plugins share: configuration, clients and state of one gateway instance. */
import type { RedisClient } from '@flashsale/common';
import type { FastifyPluginAsync, FastifyPluginOptions, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.ts';
import type { BuyerIdentity } from './identity/buyer.ts';
import type { OrderProducer } from './kafka/producer.ts';
import type { LocalRateLimiter } from './local-rate-limit.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { SaleState } from './sale-state.ts';

export interface GatewayContext {
  config: GatewayConfig;
  log: Logger;
  redis: RedisClient;
  /** subscriber connection (pub/sub only) */
  sub: RedisClient;
  producer: OrderProducer;
  metrics: GatewayMetrics;
  /** Redis token buckets (the read routes' per-IP limit) */
  limiter: RateLimiter;
  /** the order routes' per-IP buckets, in this process */
  orderIpLimiter: LocalRateLimiter;
  sale: SaleState;
  /** who the buyer is (IDENTITY_SOURCE): the body's user_id, a trusted proxy's header or a verified token */
  identity: BuyerIdentity;
  /** set when shutdown began: readiness answers 503 */
  closing: boolean;
  /** open SSE streams, ended on shutdown */
  streams: Set<() => void>;
  /** records the HTTP metrics of a hijacked reply (SSE) when its stream ends */
  finishHttp?: (req: FastifyRequest, statusCode: number, size: number) => void;
}

/** Mark a plugin as not encapsulated (what fastify-plugin does), so its hooks apply to every route. */
export function global<T extends FastifyPluginOptions = Record<never, never>>(
  plugin: FastifyPluginAsync<T>,
): FastifyPluginAsync<T> {
  (plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
  return plugin;
}
