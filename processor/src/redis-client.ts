/**
 * The processor's Redis client: one connection per node, auto-pipelined, except for the two calls that carry a
 * batch's orders.
 *
 * ioredis serves one auto-pipeline per node at a time and answers every command of it only when the last reply is in;
 * commands issued meanwhile wait for the next pipeline. A batch's reserves (one call per item and 128 orders: for a
 * fetch of six 1 MiB partitions about 150 calls, a second of Redis's time) went out as one such pipeline, so no hold
 * was paid and no settle was even sent until the last reserve of the fetch had run: Redis worked while Node waited,
 * then Node while Redis waited (docs/benchmarks.md, "Issue 17, fifteenth look"). Sent directly, each reserve call
 * answers as soon as it has run, and each settle call too, so payments and settles go on while later reserves run.
 * Order is unchanged: direct calls are written to the node's connection in the order they are made, and Redis serves a
 * connection in order.
 */
import { createRedis, type RedisClient, type ScriptName } from '@flashsale/common';
import type { ProcessorConfig } from './config.ts';

/** The scripts sent at once rather than auto-pipelined: each is one call for many orders of an item. */
export const UNPIPELINED_SCRIPTS: readonly ScriptName[] = ['inventory_reserve', 'inventory_settle'];

export function createProcessorRedis(config: ProcessorConfig): RedisClient {
  const ignored = [...UNPIPELINED_SCRIPTS];
  return createRedis(
    {
      mode: config.redis.mode,
      nodes: config.redis.nodes,
      username: config.redis.username,
      password: config.redis.password,
      tls: config.redis.tls,
    },
    {
      commandTimeout: config.redis.commandTimeoutMs,
      // Fail fast while disconnected: the processor's own retry policy (REDIS_RETRY_*) decides how long to wait
      // before an order is dead-lettered, not ioredis' offline queue.
      enableOfflineQueue: false,
      retryStrategy: (n: number) => Math.min(50 * 2 ** n, 1000),
      autoPipeliningIgnoredCommands: ignored,
    },
    {
      enableOfflineQueue: false,
      clusterRetryStrategy: (n: number) => Math.min(50 * 2 ** n, 1000),
      autoPipeliningIgnoredCommands: ignored,
    },
  );
}
