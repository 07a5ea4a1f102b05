/**
 * The processor end to end over the real Redis and Kafka: a sale of N units under many more orders, payment
 * failures restocked and dead-lettered, poison messages, and two processors sharing one group.
 */
import {
  groupLag,
  PROCESSOR_METRICS as M,
  processorGroupId,
  type RedisClient,
  seedItem,
  topics,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import type { PaymentProvider, PaymentResult } from '../src/payment.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  checkConservation,
  checkDlqHeaders,
  dlqOrderId,
  expectFailedPaymentsDeadLettered,
  kafkaClient,
  makeOrders,
  metricValue,
  newRedis,
  processorEnv,
  produce,
  REDIS_BACKENDS,
  readDlq,
  statuses,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

let r: RedisClient;
const running: ProcessorHandle[] = [];
beforeAll(() => {
  r = newRedis();
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  r.disconnect();
});

async function start(sale: string, extra: Record<string, string> = {}, payment?: PaymentProvider) {
  const p = await startProcessor(loadConfig(processorEnv(sale, extra)), {
    defaultMetrics: false,
    ...(payment ? { payment } : {}),
  });
  running.push(p);
  return p;
}

describe('processor end to end', () => {
  // on the single Redis and on the Redis Cluster (REDIS_MODE=cluster): the same test, a connection factory each
  it.each(REDIS_BACKENDS)(
    'on $name Redis: sells exactly N units under many more orders; failures are restocked, resold and dead-lettered',
    async (b) => {
      const sale = uniqueSale(`e2e${b.name[0]}`);
      const r = b.client();
      onTestFinished(() => r.disconnect());
      const items = ['alpha', 'beta', 'gamma'];
      const stock = { alpha: 25, beta: 15, gamma: 10 } as Record<string, number>;
      const N = 50;
      for (const i of items) await seedItem(r, sale, i, stock[i]!);
      const p = await start(sale, { ...b.env(), PAYMENT_FAILURE_RATE: '0.2', PAYMENT_SEED: 'e2e' });

      // waves of demand until every unit is sold: units a failed payment returns are bought by a later wave
      const all = [];
      let audits = await checkConservation(r, sale);
      for (let wave = 0; wave < 8 && audits.some((a) => a.remaining > 0); wave++) {
        const orders = makeOrders(sale, items, wave === 0 ? 300 : 60, `w${wave}-`);
        all.push(...orders);
        await produce(
          sale,
          orders,
          wave === 0
            ? [
                { key: 'alpha', value: '{not json' },
                { key: 'beta', value: JSON.stringify({ v: 1, order_id: 'beta.x', sale, item_id: 'beta' }) },
              ]
            : [],
        );
        await waitAllFinal(r, sale, orders);
        audits = await checkConservation(r, sale);
      }
      const final = await waitAllFinal(r, sale, all);
      const count = (s: string) => [...final.values()].filter((v) => v === s).length;

      // 0 oversold, nothing lost: exactly N units confirmed, none held, none left
      audits = await checkConservation(r, sale);
      expect(audits.reduce((n, a) => n + a.confirmed, 0)).toBe(N);
      expect(audits.every((a) => a.remaining === 0 && a.held === 0)).toBe(true);
      expect(count('CONFIRMED')).toBe(N);
      expect(count('CONFIRMED') + count('SOLD_OUT') + count('PAYMENT_FAILED')).toBe(all.length);
      // every failed payment returned its unit
      expect(audits.reduce((n, a) => n + a.released, 0)).toBe(count('PAYMENT_FAILED'));
      expect(count('PAYMENT_FAILED')).toBeGreaterThan(0);

      // dead letters: every failed payment once, plus the two poison messages, with the contract's headers
      const dlq = await eventually('dead letters', async () => {
        const d = await readDlq(sale);
        return d.length >= count('PAYMENT_FAILED') + 2 ? d : undefined;
      });
      for (const e of dlq) checkDlqHeaders(e, sale);
      const failedIds = [...final.entries()].filter(([, s]) => s === 'PAYMENT_FAILED').map(([id]) => id);
      const paymentDlq = dlq.filter((e) => e.headers.dlq_reason?.startsWith('payment_'));
      expect(new Set(paymentDlq.map(dlqOrderId))).toEqual(new Set(failedIds));
      expect(paymentDlq).toHaveLength(failedIds.length);
      const poison = dlq.filter((e) => e.headers.dlq_reason === 'invalid_order_format');
      expect(poison).toHaveLength(2);
      expect(poison.map((e) => e.value)).toContain('{not json');
      for (const e of paymentDlq) {
        const o = all.find((x) => x.order_id === dlqOrderId(e))!;
        expect(e.headers).toMatchObject({
          correlation_id: o.correlation_id,
          request_id: o.request_id,
          dlq_attempt: '1',
        });
        expect(e.key).toBe(o.item_id);
      }

      // the metrics agree with the store once the processor has heard back: an order counts when its script's answer
      // reaches the processor (after the store shows it), a dead letter once the broker acknowledged it (after a
      // reader can see it). Processed counts deliveries: a group rejoin on a busy machine delivers a batch in flight
      // again from the committed offset, and its replays count too; the other counters count effects, once.
      const reg = p.metrics.registry;
      const expected = { success: N, soldOut: count('SOLD_OUT'), movedToDlq: failedIds.length + 2 };
      const counted = async () => ({
        success: await metricValue(reg, M.ordersProcessedSuccess),
        soldOut: await metricValue(reg, M.ordersSoldOut),
        movedToDlq: await metricValue(reg, M.ordersMovedToDlq),
      });
      const processed = () => metricValue(reg, M.ordersProcessed);
      await eventually(
        'the metrics',
        async () =>
          JSON.stringify(await counted()) === JSON.stringify(expected) && (await processed()) >= all.length + 2,
        10_000,
      ).catch(
        () => undefined, // the exact figures below say what differs
      );
      expect(await counted()).toEqual(expected);
      expect(await processed()).toBeGreaterThanOrEqual(all.length + 2);
    },
  );

  it('two processors in one group split the partitions without doubling any effect', async () => {
    const sale = uniqueSale('grp');
    const items = Array.from({ length: 8 }, (_, i) => `item${i}`);
    for (const i of items) await seedItem(r, sale, i, 20);
    const env = { PAYMENT_FAILURE_RATE: '0.1', TOPIC_PARTITIONS: '4', PAYMENT_SEED: 'grp' };
    const a = await start(sale, env);
    const b = await start(sale, env);
    const orders = makeOrders(sale, items, 480);
    await produce(sale, orders);
    const final = await waitAllFinal(r, sale, orders);
    const count = (s: string) => [...final.values()].filter((v) => v === s).length;
    const audits = await checkConservation(r, sale);

    const processedA = await metricValue(a.metrics.registry, M.ordersProcessed);
    const processedB = await metricValue(b.metrics.registry, M.ordersProcessed);
    expect(processedA).toBeGreaterThan(0);
    expect(processedB).toBeGreaterThan(0);
    // every effect once: fresh confirmations counted by both processors equal the confirmed orders (a confirmation
    // counts when its answer reaches the processor, just after the store shows it)
    const success = async () =>
      (await metricValue(a.metrics.registry, M.ordersProcessedSuccess)) +
      (await metricValue(b.metrics.registry, M.ordersProcessedSuccess));
    await eventually('the confirmations counted', async () => (await success()) >= count('CONFIRMED'), 10_000).catch(
      () => undefined, // the exact figure below says what differs
    );
    expect(await success()).toBe(count('CONFIRMED'));
    expect(audits.reduce((n, x) => n + x.confirmed, 0)).toBe(count('CONFIRMED'));
    expect(count('CONFIRMED')).toBeLessThanOrEqual(160);
    const dlq = await eventually('dead letters', async () => {
      const d = await readDlq(sale);
      return d.length >= count('PAYMENT_FAILED') ? d : undefined;
    });
    expect(new Set(dlq.map(dlqOrderId)).size).toBe(count('PAYMENT_FAILED'));
  });

  it('an order delivered twice in one batch (a producer retry, a stuck order sent again) has one effect and one dead letter', async () => {
    const sale = uniqueSale('dup');
    const items = ['a', 'b', 'c', 'd'];
    for (const i of items) await seedItem(r, sale, i, 100);
    const p = await start(sale, { PAYMENT_FAILURE_RATE: '0.5', PAYMENT_SEED: 'dup' });
    const orders = makeOrders(sale, items, 120);
    // each message right behind its copy, in one request per partition: both copies land in the same batch
    await produce(
      sale,
      orders.flatMap((o) => [o, o]),
    );
    const final = await waitAllFinal(r, sale, orders);
    const failedIds = [...final.entries()].filter(([, s]) => s === 'PAYMENT_FAILED').map(([id]) => id);
    const confirmed = [...final.values()].filter((s) => s === 'CONFIRMED').length;
    expect(failedIds.length).toBeGreaterThan(10);
    expect(confirmed + failedIds.length).toBe(orders.length);
    const reg = p.metrics.registry;
    // a batch's offsets are committed only after its letters are acknowledged: no lag, every letter written
    const admin = kafkaClient('dup-lag').admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    // at least every copy: a group rejoin (a heartbeat missed on a busy machine) delivers a batch in flight again,
    // from the committed offset; deliveries may exceed the copies, effects may not (checked below)
    await eventually('every copy processed and committed', async () => {
      const lag = await groupLag(admin, processorGroupId(sale), topics(sale).orders);
      return lag.reduce((n, x) => n + x.lag, 0) === 0 &&
        (await metricValue(reg, M.ordersProcessed)) >= 2 * orders.length
        ? true
        : undefined;
    });
    // one letter per failed order, however many copies of it were delivered
    const dlq = await readDlq(sale);
    expect(dlq.map(dlqOrderId).sort()).toEqual([...failedIds].sort());
    expect(await metricValue(reg, M.ordersMovedToDlq)).toBe(failedIds.length);
    // each unit sold once: confirmations counted once, the books balanced
    expect(await metricValue(reg, M.ordersProcessedSuccess)).toBe(confirmed);
    const audits = await checkConservation(r, sale);
    expect(audits.reduce((n, a) => n + a.confirmed, 0)).toBe(confirmed);
    expect(audits.reduce((n, a) => n + a.released, 0)).toBe(failedIds.length);
  });

  it("sends a declined order's dead letter while the batch's other payments still run, and commits the batch only after them", async () => {
    const sale = uniqueSale('letters');
    const items = ['a', 'b'];
    for (const i of items) await seedItem(r, sale, i, 100);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    onTestFinished(() => open());
    const declined = (orderId: string) => orderId.endsWith('0');
    const payment: PaymentProvider = {
      async charge(req): Promise<PaymentResult> {
        if (declined(req.orderId)) return { ok: false, reason: 'payment_failed', error: 'declined (test)' };
        await gate;
        return { ok: true };
      },
      async refund() {
        return { ok: true };
      },
    };
    await start(sale, { PAYMENT_TIMEOUT: '60s' }, payment);
    // one request: each item's orders land in one batch of its partition
    const orders = makeOrders(sale, items, 40);
    await produce(sale, orders);
    const declinedIds = orders.filter((o) => declined(o.order_id)).map((o) => o.order_id);
    const paying = orders.filter((o) => !declined(o.order_id));
    expect(declinedIds).toHaveLength(4);

    const early = await eventually('the declined orders dead-lettered', async () => {
      const d = await readDlq(sale);
      return d.length >= declinedIds.length ? d : undefined;
    });
    expect(early.map(dlqOrderId).sort()).toEqual([...declinedIds].sort());
    // ... while the other orders of their batches still wait for their payments, uncommitted
    expect(new Set((await statuses(r, sale, paying)).values())).toEqual(new Set(['RESERVED']));
    const admin = kafkaClient('letters-lag').admin();
    await admin.connect();
    onTestFinished(() => admin.disconnect());
    const lag = async () =>
      (await groupLag(admin, processorGroupId(sale), topics(sale).orders)).reduce((n, x) => n + x.lag, 0);
    expect(await lag()).toBe(orders.length);

    open();
    const final = await waitAllFinal(r, sale, orders);
    expect(paying.every((o) => final.get(o.order_id) === 'CONFIRMED')).toBe(true);
    expect(declinedIds.every((id) => final.get(id) === 'PAYMENT_FAILED')).toBe(true);
    await eventually('the batches committed', async () => ((await lag()) === 0 ? true : undefined));
    // one letter each, no more after the rest settled
    expect((await readDlq(sale)).map(dlqOrderId).sort()).toEqual([...declinedIds].sort());
  });

  it('keeps per-item order (first come, first served) while payments run concurrently', async () => {
    const sale = uniqueSale('fifo');
    await seedItem(r, sale, 'solo', 5);
    let inFlight = 0;
    let maxInFlight = 0;
    const slow: PaymentProvider = {
      async charge(): Promise<PaymentResult> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((res) => setTimeout(res, 50));
        inFlight--;
        return { ok: true };
      },
      async refund() {
        return { ok: true };
      },
    };
    await start(sale, {}, slow);
    const orders = makeOrders(sale, ['solo'], 40);
    await produce(sale, orders);
    const final = await waitAllFinal(r, sale, orders);
    // the five units went to the first five orders of the item, in topic order
    expect(orders.map((o) => final.get(o.order_id))).toEqual([
      ...Array(5).fill('CONFIRMED'),
      ...Array(35).fill('SOLD_OUT'),
    ]);
    expect(maxInFlight).toBeGreaterThan(1);
  });

  it('a processor joining and another leaving mid-run (two rebalances) change no effect', async () => {
    const sale = uniqueSale('rebal');
    const items = Array.from({ length: 6 }, (_, i) => `it${i}`);
    for (const i of items) await seedItem(r, sale, i, 30);
    const env = {
      PAYMENT_FAILURE_RATE: '0.2',
      PAYMENT_SEED: 'rebal',
      PAYMENT_LATENCY_MIN: '20ms',
      PAYMENT_LATENCY_MAX: '80ms',
      PAYMENT_TIMEOUT: '100ms',
      PAYMENT_CONCURRENCY: '8',
      TOPIC_PARTITIONS: '4',
    };
    const a = await start(sale, env);
    const orders = makeOrders(sale, items, 600);
    // two waves: the second is produced once b is in the group, so b has work however fast a drains the first
    await produce(sale, orders.slice(0, 300));
    const settled = async () =>
      [...(await statuses(r, sale, orders)).values()].filter((s) => s === 'CONFIRMED' || s === 'PAYMENT_FAILED').length;
    await eventually('a run in progress', async () => (await settled()) >= 10, 30_000, 20);
    const b = await start(sale, env); // rebalance 1
    await eventually('b in the group', async () => (await fetch(`http://127.0.0.1:${b.port}/health`)).status === 200);
    await produce(sale, orders.slice(300));
    await eventually(
      'b at work',
      async () => (await metricValue(b.metrics.registry, M.ordersProcessed)) > 0,
      30_000,
      50,
    );
    await a.stop(); // rebalance 2: a finishes its batch, commits and leaves
    const final = await waitAllFinal(r, sale, orders);
    const count = (s: string) => [...final.values()].filter((v) => v === s).length;
    const audits = await checkConservation(r, sale);
    const success =
      (await metricValue(a.metrics.registry, M.ordersProcessedSuccess)) +
      (await metricValue(b.metrics.registry, M.ordersProcessedSuccess));
    expect(success).toBe(count('CONFIRMED'));
    expect(audits.reduce((n, x) => n + x.confirmed, 0)).toBe(count('CONFIRMED'));
    expect(audits.reduce((n, x) => n + x.released, 0)).toBe(count('PAYMENT_FAILED'));
    expect(audits.every((x) => x.held === 0)).toBe(true);
    expect(count('CONFIRMED') + count('SOLD_OUT') + count('PAYMENT_FAILED')).toBe(orders.length);
    await expectFailedPaymentsDeadLettered(sale, final);
  });
});
