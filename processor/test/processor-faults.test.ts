/**
 * Redis faults (a real Redis behind a proxy the test cuts): short outages are retried with backoff and nothing
 * is dead-lettered; long ones dead-letter `redis_failure`, and the DLQ redrive then completes those orders,
 * moves the DLQ gauges, and replays of orders already final change nothing.
 */
import { itemKeys, PROCESSOR_METRICS as M, type RedisClient, seedItem } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDlq, replayDlq } from '../../cli/src/dlq.ts';
import { eventually, expectStable } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  checkConservation,
  dlqOrderId,
  kafkaBrokers,
  makeOrders,
  metricValue,
  newRedis,
  processorEnv,
  produce,
  readDlq,
  redisAddr,
  statuses,
  tcpProxy,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

let r: RedisClient;
const running: ProcessorHandle[] = [];
const proxies: Awaited<ReturnType<typeof tcpProxy>>[] = [];
beforeAll(() => {
  r = newRedis();
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.restore()));
  await Promise.all(running.map((p) => p.stop()));
  await Promise.all(proxies.map((p) => p.close()));
  r.disconnect();
});

async function setup(sale: string, extra: Record<string, string>) {
  const proxy = await tcpProxy(redisAddr());
  proxies.push(proxy);
  const p = await startProcessor(
    loadConfig(processorEnv(sale, { REDIS_ADDR: proxy.addr, TOPIC_PARTITIONS: '2', ...extra })),
    {
      defaultMetrics: false,
    },
  );
  running.push(p);
  return { proxy, p };
}

describe('Redis faults', () => {
  it('retries a short outage with backoff: nothing dead-lettered, every order final', async () => {
    const sale = uniqueSale('blip');
    await seedItem(r, sale, 'i1', 10);
    const { proxy, p } = await setup(sale, {
      REDIS_RETRY_ATTEMPTS: '10',
      REDIS_RETRY_BASE: '100ms',
      REDIS_RETRY_MAX: '1s',
      PAYMENT_FAILURE_RATE: '0',
    });
    await eventually('healthy', async () => (await fetch(`http://127.0.0.1:${p.port}/health`)).status === 200);
    await proxy.cut();
    const orders = makeOrders(sale, ['i1'], 20);
    await produce(sale, orders);
    await eventually(
      'unhealthy while Redis is away',
      async () => (await fetch(`http://127.0.0.1:${p.port}/health`)).status === 503,
    );
    // a short outage: retried, nothing dead-lettered while it lasts
    await expectStable(async () => expect(await metricValue(p.metrics.registry, M.ordersMovedToDlq)).toBe(0), 1500);
    await proxy.restore();
    const final = await waitAllFinal(r, sale, orders);
    expect([...final.values()].filter((s) => s === 'CONFIRMED')).toHaveLength(10);
    expect(await metricValue(p.metrics.registry, M.ordersMovedToDlq)).toBe(0);
    expect(await metricValue(p.metrics.registry, M.ordersProcessed)).toBe(20);
    await checkConservation(r, sale);
  });

  it('dead-letters a long outage as redis_failure; the redrive completes those orders and moves the gauges', async () => {
    const sale = uniqueSale('outage');
    await seedItem(r, sale, 'i1', 100);
    const { proxy, p } = await setup(sale, {
      REDIS_RETRY_ATTEMPTS: '2',
      REDIS_RETRY_BASE: '50ms',
      PAYMENT_FAILURE_RATE: '0.3',
      PAYMENT_SEED: 'outage',
      OFFSETS_INTERVAL: '1h',
    });
    const reg = p.metrics.registry;
    // some orders with real payment failures first
    const before = makeOrders(sale, ['i1'], 20, 'pre');
    await produce(sale, before);
    const pre = await waitAllFinal(r, sale, before);
    const failedPay = [...pre.values()].filter((s) => s === 'PAYMENT_FAILED').length;
    expect(failedPay).toBeGreaterThan(0);

    // the batch marks its dead-lettered orders (dlq_at) after the DLQ acknowledged them: let it finish before the
    // outage, or a replay would dead-letter them again (a duplicate, by design never a loss)
    const failedPre = before.filter((o) => pre.get(o.order_id) === 'PAYMENT_FAILED');
    await eventually('dead-letter marks', async () => {
      const marks = await Promise.all(
        failedPre.map((o) => r.hget(itemKeys(sale, o.item_id).order(o.order_id), 'dlq_at')),
      );
      return marks.every(Boolean);
    });
    await proxy.cut();
    const lost = makeOrders(sale, ['i1'], 5, 'lost');
    await produce(sale, lost);
    await eventually(
      'dead letters of the outage',
      async () => (await metricValue(reg, M.ordersMovedToDlq, { reason: 'redis_failure' })) === 5,
    );
    await proxy.restore();
    expect([...(await statuses(r, sale, lost)).values()]).toEqual(Array(5).fill('MISSING'));

    const brokers = kafkaBrokers();
    const gauge = async () => {
      await p.refresh();
      return metricValue(reg, M.dlqSize);
    };
    // what the DLQ must hold: every failed payment (replayed orders can fail payment too) + orders never reserved
    const expected = async () => {
      const s = [...(await statuses(r, sale, [...before, ...lost])).values()];
      return s.filter((x) => x === 'PAYMENT_FAILED' || x === 'MISSING').length;
    };
    await eventually('DLQ gauge', async () => (await gauge()) === failedPay + 5);
    const listed = await listDlq({ sale, brokers });
    expect(listed.total).toBe(failedPay + 5);
    expect(listed.reasons.find((x) => x.reason === 'redis_failure')?.count).toBe(5);

    // dry run: nothing changes
    const dry = await replayDlq({ sale, brokers, reasons: ['redis_failure'], dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, selected: 5, replayed: 0 });
    expect(await gauge()).toBe(failedPay + 5);

    // replay 3 of the 5, then the rest
    const some = await replayDlq({ sale, brokers, reasons: ['redis_failure'], count: 3 });
    expect(some).toMatchObject({ replayed: 3, byReason: { redis_failure: 3 } });
    await eventually('3 replayed orders final', async () => {
      const s = [...(await statuses(r, sale, lost)).values()];
      return s.filter((x) => x !== 'MISSING').length === 3;
    });
    await eventually('DLQ gauge after 3 replays', async () => (await gauge()) === (await expected()));
    expect(await expected()).toBeGreaterThanOrEqual(failedPay + 2);
    const rest = await replayDlq({ sale, brokers, reasons: ['redis_failure'] });
    expect(rest.replayed).toBe(2);
    await waitAllFinal(r, sale, lost);
    await eventually('DLQ gauge after all redis_failure replays', async () => (await gauge()) === (await expected()));
    expect((await listDlq({ sale, brokers })).reasons.map((x) => x.reason).sort()).not.toContain('redis_failure');
    // a redriven order that fails again is dead-lettered with the next attempt number
    const lostIds = new Set(lost.map((o) => o.order_id));
    for (const e of await readDlq(sale)) {
      const id = dlqOrderId(e);
      if (!id || !lostIds.has(id)) continue;
      expect(e.headers.dlq_attempt).toBe(e.headers.dlq_reason === 'redis_failure' ? '1' : '2');
    }

    // replaying the payment failures is idempotent: statuses and stock stay, no new dead letters
    const auditBefore = await checkConservation(r, sale);
    const statusBefore = await statuses(r, sale, [...before, ...lost]);
    const dlqBefore = await metricValue(reg, M.ordersMovedToDlq);
    const allFailed = await expected();
    const processedBefore = await metricValue(reg, M.ordersProcessed);
    const all = await replayDlq({ sale, brokers });
    expect(all.replayed).toBe(allFailed);
    expect(Object.keys(all.byReason).every((x) => x.startsWith('payment_'))).toBe(true);
    await eventually(
      'replays consumed',
      async () => (await metricValue(reg, M.ordersProcessed)) === processedBefore + allFailed,
    );
    expect(await statuses(r, sale, [...before, ...lost])).toEqual(statusBefore);
    expect(await checkConservation(r, sale)).toEqual(auditBefore);
    expect(await metricValue(reg, M.ordersMovedToDlq)).toBe(dlqBefore);
    expect(await gauge()).toBe(0);
    expect(await metricValue(reg, M.dlqOldestAge)).toBe(0);
    expect((await replayDlq({ sale, brokers })).selected).toBe(0);
  });
});
