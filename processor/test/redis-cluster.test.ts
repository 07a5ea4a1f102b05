/**
 * Redis Cluster: every inventory script runs without CROSSSLOT (all keys of an item share its hash tag), items
 * spread over the masters, and the processor works end to end with REDIS_MODE=cluster.
 */
import {
  auditItem,
  confirm,
  createRedis,
  expireHolds,
  itemKeys,
  type RedisClient,
  release,
  reserve,
  seedItem,
} from '@flashsale/common';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import { checkConservation, makeOrders, processorEnv, produce, services, uniqueSale, waitAllFinal } from './support.ts';

let c: RedisClient;
let addrs = '';
let p: ProcessorHandle | undefined;
beforeAll(async () => {
  const rc = services().redisCluster;
  if (!rc?.nodes?.length) throw new Error('the harness provided no Redis Cluster (services.redisCluster is missing)');
  addrs = rc.addrs;
  c = createRedis({ mode: 'cluster', nodes: rc.nodes });
  await c.ping();
});
afterAll(async () => {
  await p?.stop();
  c?.disconnect();
});

describe('inventory scripts on Redis Cluster', () => {
  it('run on every master with no CROSSSLOT and never oversell', async () => {
    const sale = uniqueSale('cl');
    const items = Array.from({ length: 12 }, (_, i) => `item${i}`);
    const slots = new Set(
      await Promise.all(
        items.map((i) => (c as Cluster).cluster('KEYSLOT', itemKeys(sale, i).stock) as Promise<number>),
      ),
    );
    expect(slots.size).toBeGreaterThan(items.length / 2); // spread over slots (and so over the masters)
    for (const i of items) await seedItem(c, sale, i, 5, 3);
    const results = await Promise.all(
      items.flatMap((item) =>
        Array.from({ length: 12 }, (_, n) =>
          reserve(
            c,
            sale,
            {
              orderId: `${item}.o${n}`,
              itemId: item,
              userId: `u${n % 4}`,
              quantity: 1,
              correlationId: 'c',
              requestId: 'r',
            },
            60_000,
          ),
        ),
      ),
    );
    expect(results.filter((r) => r.status === 'RESERVED')).toHaveLength(items.length * 5);
    const t = Date.now();
    for (const item of items) {
      await confirm(c, sale, item, `${item}.o0`, t);
      await release(c, sale, item, `${item}.o1`, 'PAYMENT_FAILED', 'payment_failed', t);
      await expireHolds(c, sale, item, 100, t + 120_000);
      expect(await auditItem(c, sale, item)).toMatchObject({
        initial: 5,
        confirmed: 1,
        held: 0,
        remaining: 4,
        drift: 0,
      });
    }
  });

  it('the processor works end to end with REDIS_MODE=cluster', async () => {
    const sale = uniqueSale('clp');
    const items = ['a', 'b', 'c', 'd'];
    for (const i of items) await seedItem(c, sale, i, 10);
    p = await startProcessor(
      loadConfig(processorEnv(sale, { REDIS_MODE: 'cluster', REDIS_ADDR: addrs, PAYMENT_FAILURE_RATE: '0.1' })),
      { defaultMetrics: false },
    );
    const orders = makeOrders(sale, items, 120);
    await produce(sale, orders);
    const final = await waitAllFinal(c, sale, orders);
    const confirmed = [...final.values()].filter((s) => s === 'CONFIRMED').length;
    const audits = await checkConservation(c, sale);
    expect(audits.reduce((n, a) => n + a.confirmed, 0)).toBe(confirmed);
    expect(confirmed).toBeLessThanOrEqual(40);
  });
});
