/** What every stage of the order path shares: the dependencies of the handler, its clock, K per item and the retry. */
import type { Logger, RedisClient } from '@flashsale/common';
import { type BucketCounts, createBucketCounts } from '../buckets.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { ProcessorConfig } from '../config.ts';
import type { ProcessorMetrics } from '../metrics.ts';
import type { PaymentProvider } from '../payment.ts';
import type { DlqSink } from '../producer.ts';
import type { Semaphore } from '../semaphore.ts';
import { withRedisRetry } from './retry-policy.ts';
import { SettleBatcher } from './settle-batch.ts';

export interface HandlerDeps {
  config: ProcessorConfig;
  redis: RedisClient;
  payment: PaymentProvider;
  dlq: DlqSink;
  metrics: ProcessorMetrics;
  log: Logger;
  /** limits payments in flight across all partitions */
  paymentSlots: Semaphore;
  /** partitions of the DLQ topic: a batch's dead letters go to partition (source partition % this), in one request */
  dlqPartitions?: number;
  /** called with the remaining units seen by a reserve, to keep the inventory gauge fresh */
  onLevel?: (itemId: string, remaining: number) => void;
  /** stock buckets per item (shared with the sweeper and the audit); created here when absent */
  buckets?: BucketCounts;
  /** the time of holds (default: the wall clock) */
  clock?: Clock;
}

export interface OrderContext extends HandlerDeps {
  clock: Clock;
  counts: BucketCounts;
  /** the level lets `order_processed` lines through */
  logsOrders: boolean;
  /** the plain items' confirms and releases, one call per item and turn */
  settles: SettleBatcher;
  /** one Redis call under the retry policy */
  retry<T>(what: string, fn: () => Promise<T>): Promise<T>;
}

export function orderContext(d: HandlerDeps): OrderContext {
  const clock = d.clock ?? systemClock;
  return {
    ...d,
    clock,
    logsOrders: d.log.isLevelEnabled('info'),
    settles: new SettleBatcher(d.redis, d.config.sale, clock),
    counts: d.buckets ?? createBucketCounts(d.redis, d.config.sale),
    retry: (what, fn) => withRedisRetry(d.config.redisRetry, d.log, what, fn),
  };
}
