/**
 * The processor's Redis client (src/redis-client.ts) sends a batch's reserve and settle calls at once instead of
 * queueing them in ioredis's auto-pipeline, where each would answer only with the last command of its pipeline and
 * hold back everything issued meanwhile; other commands are still auto-pipelined. Checked on one Redis and on the
 * Redis Cluster, with the holds' effects read back.
 */
import { createRedis, itemKeys, type RedisClient, reserveMany, seedItem, settleMany } from '@flashsale/common';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createProcessorRedis } from '../src/redis-client.ts';
import { processorEnv, services, uniqueSale } from './support.ts';

const clients: RedisClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

async function ready(c: RedisClient): Promise<RedisClient> {
  clients.push(c);
  // the processor's client refuses commands before it is connected (no offline queue)
  if (c.status !== 'ready') await new Promise((r, j) => c.once('ready', r).once('error', j));
  return c;
}

async function sendsBatchCallsAtOnce(env: Record<string, string>, reader: RedisClient) {
  const sale = uniqueSale('rc');
  const r = await ready(createProcessorRedis(loadConfig(processorEnv(sale, env))));
  await seedItem(reader, sale, 'a', 5);
  const order = { orderId: 'a.1', itemId: 'a', userId: 'u1', quantity: 1, correlationId: 'c1', requestId: 'r1' };

  const reserved = reserveMany(r, sale, 'a', [order], 60_000);
  expect(r.autoPipelineQueueSize).toBe(0);
  // the control: any other command waits for the next auto-pipeline
  const other = r.get(itemKeys(sale, 'a').stock);
  expect(r.autoPipelineQueueSize).toBe(1);
  const [res] = await reserved;
  expect(res?.status).toBe('RESERVED');
  expect(await other).toBe('4');

  const settled = settleMany(r, sale, 'a', [{ orderId: 'a.1', final: 'CONFIRMED', reason: '' }]);
  expect(r.autoPipelineQueueSize).toBe(0);
  expect((await settled)[0]).toMatchObject({ status: 'CONFIRMED', outcome: 'confirmed' });
  expect(await reader.hget(itemKeys(sale, 'a').order('a.1'), 'status')).toBe('CONFIRMED');
}

describe("the processor's Redis client", () => {
  it('sends reserve and settle calls at once, other commands auto-pipelined (one Redis)', async () => {
    const reader = await ready(createRedis({ mode: 'single', nodes: loadConfig(processorEnv('x')).redis.nodes }));
    await sendsBatchCallsAtOnce({}, reader);
  });

  it('does the same on the Redis Cluster', async () => {
    const rc = services().redisCluster;
    if (!rc?.nodes?.length) throw new Error('the harness provided no Redis Cluster (services.redisCluster is missing)');
    const reader = await ready(createRedis({ mode: 'cluster', nodes: rc.nodes }));
    await sendsBatchCallsAtOnce({ REDIS_MODE: 'cluster', REDIS_ADDR: rc.addrs }, reader);
  });
});
