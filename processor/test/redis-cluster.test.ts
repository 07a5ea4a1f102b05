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
  newOrderId,
  type RedisClient,
  release,
  reserve,
  seedItem,
} from '@flashsale/common';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  admitAsGateway,
  checkConservation,
  makeOrders,
  processorEnv,
  produce,
  services,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

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

  it('the stuck-order sweeper finds QUEUED orders on every master, and only the old ones', async () => {
    const sale = uniqueSale('clstuck');
    const items = Array.from({ length: 8 }, (_, i) => `item${i}`);
    const at = (item: string, user: string, t: number) => admitAsGateway(c, { sale, item, user, at: t });
    const lost: [string, string][] = [];
    for (const item of items) {
      await seedItem(c, sale, item, 10);
      for (const n of [0, 1]) {
        await at(item, `u${n}`, Date.now() - 60_000);
        lost.push([item, newOrderId(sale, item, `u${n}`, `key-u${n}`)]);
      }
      await at(item, 'recent', Date.now()); // inside STUCK_ORDER_AFTER: left alone
    }
    await p?.stop();
    p = await startProcessor(
      loadConfig(
        processorEnv(sale, {
          REDIS_MODE: 'cluster',
          REDIS_ADDR: addrs,
          STUCK_ORDER_AFTER: '20s',
          STUCK_SWEEP_INTERVAL: '300ms',
          STUCK_REPUBLISH_ATTEMPTS: '0',
        }),
      ),
      { defaultMetrics: false },
    );
    for (const [item, id] of lost) {
      await eventually(
        `${id} finalized`,
        async () => (await c.hget(itemKeys(sale, item).order(id), 'status')) === 'REJECTED',
      );
    }
    for (const item of items) {
      const recent = newOrderId(sale, item, 'recent', 'key-recent');
      expect(await c.hmget(itemKeys(sale, item).order(recent), 'status', 'reason')).toEqual(['QUEUED', null]);
    }
    const [first] = lost[0]!;
    expect(await c.hmget(itemKeys(sale, first).order(lost[0]![1]), 'reason')).toEqual(['not_processed']);
  });
});
