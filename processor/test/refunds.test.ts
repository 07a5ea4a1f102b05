/**
 * Charged but not sold (issue 18, point 5): a payment that lands after its hold expired is refunded and the order
 * ends REFUNDED, once, whatever is redelivered: on the single Redis and on the Cluster (the refund's marker is the
 * order record, in the item's slot), whether the confirm found the hold expired or the sweeper had expired it, when
 * the same message comes again, and when the processor dies after the provider refunded or after the refund was
 * recorded but before the offsets were committed. No unit is sold for such an order and the books balance.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  auditSale,
  itemKeys,
  PROCESSOR_METRICS as M,
  PAID_AFTER_EXPIRY,
  type RedisClient,
  seedItem,
} from '@flashsale/common';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { type PaymentProvider, SimulatedPaymentProvider } from '../src/payment.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  checkConservation,
  dlqOrderId,
  makeOrders,
  metricValue,
  newRedis,
  processorEnv,
  produce,
  REDIS_BACKENDS,
  readDlq,
  spawnProcessor,
  statuses,
  uniqueSale,
} from './support.ts';

const CHILD = fileURLToPath(new URL('./refund-child.ts', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const everyStatus = (r: RedisClient, sale: string, orders: ReturnType<typeof makeOrders>, want: string) =>
  eventually(`every order ${want}`, async () => {
    const s = await statuses(r, sale, orders);
    return [...s.values()].every((v) => v === want) ? s : undefined;
  });

describe.each(
  REDIS_BACKENDS.flatMap((b) => [
    { b, sweep: '1h', how: 'the confirm finds the hold expired' },
    { b, sweep: '100ms', how: 'the sweeper expired the hold first' },
  ]),
)('a payment slower than the hold, $b.name Redis: $how', ({ b, sweep }) => {
  it('ends REFUNDED, refunded and counted once also when redelivered; no unit sold, books balanced', async () => {
    const sale = uniqueSale('rf');
    const r = b.client();
    onTestFinished(() => r.disconnect());
    await seedItem(r, sale, 'late', 3);
    const env = processorEnv(sale, {
      ...b.env(),
      HOLD_TTL: '1s',
      SWEEP_INTERVAL: sweep,
      PAYMENT_LATENCY_MIN: '1400ms',
      PAYMENT_LATENCY_MAX: '1500ms',
      PAYMENT_TIMEOUT: '5s',
      PAYMENT_FAILURE_RATE: '0',
    });
    const config = loadConfig(env);
    const payment = new SimulatedPaymentProvider({ ...config.payment });
    const p: ProcessorHandle = await startProcessor(config, { payment, defaultMetrics: false });
    onTestFinished(() => p.stop());
    const v = (name: string, labels: Record<string, string> = {}) => metricValue(p.metrics.registry, name, labels);

    const orders = makeOrders(sale, ['late'], 3, 'x');
    await produce(sale, orders);
    await everyStatus(r, sale, orders, 'REFUNDED');
    for (const o of orders) {
      expect(await r.hget(itemKeys(sale, 'late').order(o.order_id), 'reason')).toBe(PAID_AFTER_EXPIRY);
      expect(payment.refunded.get(o.order_id)).toBe(1);
    }
    expect(await v(M.refunds, { reason: PAID_AFTER_EXPIRY })).toBe(3);
    expect(await v(M.ordersProcessedSuccess)).toBe(0);
    expect(await v(M.holdsExpired)).toBe(sweep === '1h' ? 0 : 3); // who expired the holds: the confirm or the sweeper

    // the same messages again (a redelivery): nothing more is charged or refunded
    const processed = await v(M.ordersProcessed);
    await produce(sale, orders);
    await eventually('the redelivered orders handled', async () => (await v(M.ordersProcessed)) === processed + 3);
    expect(await v(M.refunds)).toBe(3);
    for (const o of orders) expect(payment.refunded.get(o.order_id)).toBe(1);
    expect([...(await statuses(r, sale, orders)).values()]).toEqual(['REFUNDED', 'REFUNDED', 'REFUNDED']);

    // no unit sold, every unit back, the books balance; a refunded order needs no one: no dead letter
    const [a] = await checkConservation(r, sale);
    expect(a).toMatchObject({ initial: 3, remaining: 3, confirmed: 0, held: 0, expired: 3, refunded: 3, drift: 0 });
    expect(await readDlq(sale)).toEqual([]);
  });
});

describe('a refund the provider does not do', () => {
  it('is dead-lettered as hold_expired; the replayed letter refunds once the provider answers', async () => {
    const r = newRedis();
    onTestFinished(() => r.disconnect());
    const sale = uniqueSale('rff');
    await seedItem(r, sale, 'late', 2);
    let refusing = true;
    const asked: string[] = [];
    const payment: PaymentProvider = {
      async charge() {
        await new Promise((res) => setTimeout(res, 300));
        return { ok: true };
      },
      async refund(req) {
        asked.push(req.orderId);
        return refusing ? { ok: false, error: 'provider down (test)' } : { ok: true };
      },
    };
    const env = processorEnv(sale, { HOLD_TTL: '100ms', SWEEP_INTERVAL: '1h', PAYMENT_TIMEOUT: '2s' });
    const p = await startProcessor(loadConfig(env), { payment, defaultMetrics: false });
    onTestFinished(() => p.stop());
    const [x] = makeOrders(sale, ['late'], 1, 'x');
    await produce(sale, [x!]);
    const dlq = await eventually('the dead letter', async () => {
      const d = await readDlq(sale);
      return d.length > 0 ? d : undefined;
    });
    expect(dlq.map((e) => [e.headers.dlq_reason, dlqOrderId(e)])).toEqual([['hold_expired', x!.order_id]]);
    expect(await r.hmget(itemKeys(sale, 'late').order(x!.order_id), 'status', 'reason')).toEqual([
      'EXPIRED',
      PAID_AFTER_EXPIRY,
    ]);
    expect(await metricValue(p.metrics.registry, M.refunds)).toBe(0);

    // the provider is back; the letter's replay (the same order message again) refunds
    refusing = false;
    await produce(sale, [x!]);
    await everyStatus(r, sale, [x!], 'REFUNDED');
    expect(asked).toEqual([x!.order_id, x!.order_id]);
    expect(await metricValue(p.metrics.registry, M.refunds)).toBe(1);
    const [a] = await checkConservation(r, sale);
    expect(a).toMatchObject({ initial: 2, remaining: 2, confirmed: 0, refunded: 1, drift: 0 });
  });
});

describe('a processor that dies around a refund', () => {
  const setup = async (prefix: string) => {
    const r = newRedis();
    onTestFinished(() => r.disconnect());
    const sale = uniqueSale(prefix);
    await seedItem(r, sale, 'late', 5);
    const dir = mkdtempSync(join(tmpdir(), 'fse-refund-'));
    const refundLog = join(dir, 'provider.log');
    writeFileSync(refundLog, '');
    const env = processorEnv(sale, {
      HOLD_TTL: '1s',
      SWEEP_INTERVAL: '1h',
      PAYMENT_TIMEOUT: '3s',
      TOPIC_PARTITIONS: '1',
      REFUND_LOG: refundLog,
      CHARGE_AFTER_MS: '1300',
    });
    const calls = () =>
      readFileSync(refundLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string; order_id: string; pid: number });
    return { r, sale, env, calls };
  };

  it('after the provider refunded, before the refund was recorded: the redelivery refunds with the same key, counted once', async () => {
    const { r, sale, env, calls } = await setup('rfa');
    const [x] = makeOrders(sale, ['late'], 1, 'x');
    const first = spawnProcessor({ ...env, CRASH_IN_REFUND: '1' }, children, CHILD);
    await produce(sale, [x!]);
    expect((await first.exited).signal).toBe('SIGKILL'); // it killed itself inside the refund
    // the charge is recorded on the order (paid after expiry), the refund is not yet
    expect(await r.hmget(itemKeys(sale, 'late').order(x!.order_id), 'status', 'reason')).toEqual([
      'EXPIRED',
      PAID_AFTER_EXPIRY,
    ]);

    spawnProcessor(env, children, CHILD);
    await everyStatus(r, sale, [x!], 'REFUNDED');
    // two requests to the provider, both with the order id as idempotency key: one refund there
    const refunds = calls().filter((c) => c.event === 'refund');
    expect(refunds.map((c) => c.order_id)).toEqual([x!.order_id, x!.order_id]);
    expect(new Set(refunds.map((c) => c.pid)).size).toBe(2);
    expect(calls().filter((c) => c.event === 'charge')).toHaveLength(1); // the redelivery charged nothing
    const [a] = await checkConservation(r, sale);
    expect(a).toMatchObject({ initial: 5, remaining: 5, confirmed: 0, refunded: 1, drift: 0 });
  });

  it('after the refund was recorded, before the offsets were committed: the redelivery refunds nothing', async () => {
    const { r, sale, env, calls } = await setup('rfb');
    // one partition, one batch: the order whose payment never answers keeps the batch (and its offsets) open
    const [hang, x] = [
      { ...makeOrders(sale, ['late'], 1, 'h')[0]!, order_id: 'late.hang1', user_id: 'hang-user' },
      makeOrders(sale, ['late'], 1, 'x')[0]!,
    ];
    const first = spawnProcessor(env, children, CHILD);
    await produce(sale, [hang, x]);
    await everyStatus(r, sale, [x], 'REFUNDED');
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await statuses(r, sale, [hang])).get(hang.order_id)).toBe('RESERVED'); // the batch was still open

    spawnProcessor(env, children, CHILD);
    const final = await eventually('the open order final', async () => {
      const s = await statuses(r, sale, [hang, x]);
      return s.get(hang.order_id) === 'PAYMENT_FAILED' ? s : undefined;
    });
    expect(final.get(x.order_id)).toBe('REFUNDED');
    // the batch came again (the open order was charged twice), the refunded one was not refunded again
    expect(calls().filter((c) => c.event === 'charge' && c.order_id === hang.order_id)).toHaveLength(2);
    expect(calls().filter((c) => c.event === 'refund')).toHaveLength(1);
    const audits = await auditSale(r, sale);
    expect(audits[0]).toMatchObject({ initial: 5, remaining: 5, confirmed: 0, held: 0, refunded: 1, drift: 0 });
  });
});
