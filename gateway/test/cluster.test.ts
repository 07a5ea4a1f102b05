/** The order path on a Redis Cluster (REDIS_MODE=cluster): every script touches one slot, pub/sub reaches the gateway. */
import { createRedis, parseAddrList, type RedisClient, reserve } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildGateway, type Gateway } from '../src/app.ts';
import { createOrdersTopic, jsonHeaders, seed, services, testConfig, uniqueSale, waitUntil } from './helpers.ts';

const sale = uniqueSale('gwc');
let gw: Gateway;
let redis: RedisClient;

beforeAll(async () => {
  const addrs = inject('services').redisCluster?.addrs;
  if (!addrs) throw new Error('the harness did not provide a Redis Cluster (services.redisCluster)');
  redis = createRedis({ mode: 'cluster', nodes: parseAddrList(addrs) });
  await createOrdersTopic(services().brokers, sale);
  await seed(redis, sale, { one: 1, many: 1000 });
  gw = await buildGateway(testConfig(sale, { REDIS_MODE: 'cluster', REDIS_ADDR: addrs, RATE_LIMIT_MAX_REQUESTS: '3' }));
  await gw.init();
  await waitUntil('the stock cache', () => gw.ctx.sale.items.size === 2);
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
    await waitUntil('the sold-out event through the cluster', () => gw.ctx.sale.isSoldOut('one'), 3000);
    const so = await post('u2', 'one', 'k4');
    expect(so.statusCode).toBe(409);
    expect(so.json().code).toBe('SOLD_OUT');
  });
});
