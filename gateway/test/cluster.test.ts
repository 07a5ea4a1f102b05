/** The order path on a Redis Cluster (REDIS_MODE=cluster): every script touches one slot, pub/sub reaches the gateway. */
import {
  bucketLevels,
  createRedis,
  parseAddrList,
  type RedisClient,
  reserve,
  reserveBucketed,
  seedBuckets,
  startBucket,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { buildGateway, type Gateway } from '../src/app.ts';
import { createOrdersTopic, jsonHeaders, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('gwc');
let gw: Gateway;
let redis: RedisClient;

beforeAll(async () => {
  const addrs = inject('services').redisCluster?.addrs;
  if (!addrs) throw new Error('the harness did not provide a Redis Cluster (services.redisCluster)');
  redis = createRedis({ mode: 'cluster', nodes: parseAddrList(addrs) });
  await createOrdersTopic(services().brokers, sale);
  await seed(redis, sale, { one: 1, many: 1000 });
  // a hot item over 4 stock buckets (one unit each, in four slots)
  await seedBuckets(redis, sale, 'hot', 4, 4);
  gw = await buildGateway(testConfig(sale, { REDIS_MODE: 'cluster', REDIS_ADDR: addrs, RATE_LIMIT_MAX_REQUESTS: '3' }));
  await gw.init();
  await eventually('the stock cache', () => gw.ctx.sale.items.size === 3, 5000, 25);
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

const post = (user: string, item: string, key: string) =>
  gw.app.inject({
    method: 'POST',
    url: '/v1/orders',
    headers: jsonHeaders(key),
    payload: { user_id: user, item_id: item, quantity: 1 },
  });

describe('gateway on a Redis Cluster', () => {
  it('accepts, replays, rate limits, reads status and learns sell-out', async () => {
    const a = await post('u1', 'many', 'k1');
    expect(a.statusCode).toBe(202);
    const replay = await post('u1', 'many', 'k1');
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await post('u1', 'many', 'k2')).statusCode).toBe(202);
    // the replay took a token too: the fourth request is over the bucket of 3
    expect((await post('u1', 'many', 'k3')).statusCode).toBe(429);
    const id = a.json().order_id as string;
    const view = await gw.app.inject({ method: 'GET', url: `/v1/orders/${id}` });
    expect(view.json()).toMatchObject({ order_id: id, status: 'QUEUED' });

    await reserve(
      redis,
      sale,
      { orderId: 'one.x1', itemId: 'one', userId: 'z', quantity: 1, correlationId: 'c', requestId: 'r' },
      60_000,
    );
    await eventually('the sold-out event through the cluster', () => gw.ctx.sale.isSoldOut('one'), 3000, 25);
    const so = await post('u2', 'one', 'k4');
    expect(so.statusCode).toBe(409);
    expect(so.json().code).toBe('SOLD_OUT');
  });

  it('flags a bucketed item sold out only when every bucket is empty', async () => {
    const hot = (n: number) => ({
      orderId: `hot.b${n}`,
      itemId: 'hot',
      userId: `hb${n}`,
      quantity: 1,
      correlationId: 'c',
      requestId: 'r',
    });
    // empty the home bucket (bucket 0) first: the gateway must go on accepting
    let n = 0;
    while (startBucket(hot(n).orderId, 4) !== 0) n++;
    expect(await reserveBucketed(redis, sale, hot(n), 60_000, 4)).toMatchObject({ status: 'RESERVED', bucket: 0 });
    expect((await bucketLevels(redis, sale, 'hot', 4))[0]).toBe(0);
    await new Promise((r) => setTimeout(r, 600)); // three stock polls (200 ms)
    expect(gw.ctx.sale.isSoldOut('hot')).toBe(false);
    expect((await post('hb-a', 'hot', 'k-hot-a')).statusCode).toBe(202);
    // the other three buckets: then the item is sold out everywhere
    for (let i = n + 1; (await bucketLevels(redis, sale, 'hot', 4)).some((x) => x > 0); i++) {
      await reserveBucketed(redis, sale, hot(i), 60_000, 4);
    }
    await eventually('the sold-out flag of the bucketed item', () => gw.ctx.sale.isSoldOut('hot'), 3000, 25);
    expect((await post('hb-b', 'hot', 'k-hot-b')).json().code).toBe('SOLD_OUT');
  });
});
