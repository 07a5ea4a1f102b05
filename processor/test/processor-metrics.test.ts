/**
 * Every runbook metric moves with the work, checked step by step with a payment provider the test opens and
 * closes (so lag, holds and expiry are observable), plus /health and /metrics over HTTP.
 */
import { itemKeys, PROCESSOR_METRICS as M, type RedisClient, seedItem } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import type { PaymentProvider, PaymentRequest, PaymentResult, RefundResult } from '../src/payment.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import { makeOrders, metricValue, newRedis, processorEnv, produce, readDlq, TestClock, uniqueSale } from './support.ts';

class GatedPayment implements PaymentProvider {
  private release!: () => void;
  private gate!: Promise<void>;
  readonly declined = new Set<string>();
  calls = 0;
  constructor() {
    this.close();
  }
  close() {
    this.gate = new Promise((r) => {
      this.release = r;
    });
  }
  open() {
    this.release();
  }
  async charge(req: PaymentRequest): Promise<PaymentResult> {
    this.calls++;
    await this.gate;
    return this.declined.has(req.orderId)
      ? { ok: false, reason: 'payment_failed', error: 'declined by test' }
      : { ok: true };
  }
  async refund(): Promise<RefundResult> {
    return { ok: true };
  }
}

let r: RedisClient;
let p: ProcessorHandle | undefined;
beforeAll(() => {
  r = newRedis();
});
afterAll(async () => {
  await p?.stop();
  r.disconnect();
});

async function histogramCount(h: ProcessorHandle, name: string): Promise<number> {
  const data = await h.metrics.registry.getSingleMetric(name)!.get();
  return data.values
    .filter((v) => (v as { metricName?: string }).metricName === `${name}_count`)
    .reduce((n, v) => n + v.value, 0);
}

describe('processor metrics', () => {
  it('move with the work: processed, success, failed, sold out, DLQ, duration, lag, levels, expiry, drift', async () => {
    const sale = uniqueSale('met');
    await seedItem(r, sale, 'a', 5);
    await seedItem(r, sale, 'b', 3);
    const pay = new GatedPayment();
    const env = processorEnv(sale, {
      HOLD_TTL: '3s',
      SWEEP_INTERVAL: '1h',
      AUDIT_INTERVAL: '1h',
      OFFSETS_INTERVAL: '1h',
      TOPIC_PARTITIONS: '1',
      // the gate holds payments back for as long as the test needs: the timeout must not end them first
      PAYMENT_TIMEOUT: '60s',
    });
    // the holds' clock: phase B lets a hold's TTL pass without waiting for it
    const clock = new TestClock();
    p = await startProcessor(loadConfig(env), { payment: pay, defaultMetrics: false, clock });
    const reg = p.metrics.registry;
    const v = (name: string, labels: Record<string, string> = {}) => metricValue(reg, name, labels);
    await p.refresh();
    expect(await v(M.inventoryLevel, { item_id: 'a' })).toBe(5);
    expect(await v(M.inventoryLevel, { item_id: 'b' })).toBe(3);
    expect(await v(M.inventoryDrift, { item_id: 'a' })).toBe(0);

    // phase A: 6 orders for 5 units and a poison message; payments held back
    const orders = makeOrders(sale, ['a'], 6, 'A');
    pay.declined.add(orders[0]!.order_id);
    await produce(sale, orders, [{ key: 'a', value: 'garbage' }]);
    await eventually('reserves', async () => pay.calls === 5 && (await v(M.ordersProcessed)) === 2);
    expect(await v(M.ordersSoldOut)).toBe(1);
    expect(await v(M.ordersProcessedFailed, { reason: 'invalid_order_format' })).toBe(1);
    expect(await v(M.inventoryLevel, { item_id: 'a' })).toBe(0);
    // the poison message's letter goes out as soon as it is decided, while the batch's payments are open ...
    await eventually('the poison letter', async () => {
      await p!.refresh();
      return (await v(M.dlqSize)) === 1 && (await v(M.ordersMovedToDlq, { reason: 'invalid_order_format' })) === 1;
    });
    expect(await v(M.consumerLag)).toBe(7); // ... and nothing is committed until they end

    pay.open();
    // an order is counted processed with its final word, and dead-lettered once its letter is acknowledged
    await eventually(
      'payments and their letters',
      async () => (await v(M.ordersProcessed)) === 7 && (await v(M.ordersMovedToDlq)) === 2,
    );
    expect(await v(M.ordersProcessedSuccess)).toBe(4);
    expect(await v(M.ordersProcessedFailed, { reason: 'payment_failed' })).toBe(1);
    expect(await v(M.ordersMovedToDlq, { reason: 'payment_failed' })).toBe(1);
    expect(await histogramCount(p, M.processingDuration)).toBe(7);
    await eventually('DLQ gauges', async () => {
      await p!.refresh();
      return (await v(M.dlqSize)) === 2 && (await v(M.dlqOldestAge)) > 0;
    });
    expect(await v(M.consumerLag)).toBe(0);
    expect(await v(M.inventoryLevel, { item_id: 'a' })).toBe(1); // the declined unit came back

    // phase B: a hold outlives its TTL while its payment hangs: the sweeper returns it, the late payment is refunded
    pay.close();
    const late = makeOrders(sale, ['b'], 1, 'B');
    await produce(sale, late);
    await eventually('reserve of the late order', async () => pay.calls === 6);
    await p.refresh();
    expect(await v(M.inventoryLevel, { item_id: 'b' })).toBe(2);
    clock.advance(3200); // past the 3 s HOLD_TTL
    await p.refresh(); // the sweeper, now
    expect(await v(M.holdsExpired)).toBe(1);
    expect(await v(M.inventoryLevel, { item_id: 'b' })).toBe(3);
    pay.open();
    await eventually('late payment', async () => (await v(M.ordersProcessed)) === 8);
    // refunded (once, counted), final, no dead letter: nothing for anyone to do
    expect(await v(M.refunds, { reason: 'paid_after_expiry' })).toBe(1);
    expect(await v(M.ordersMovedToDlq, { reason: 'hold_expired' })).toBe(0);
    expect(await r.hget(itemKeys(sale, 'b').order(late[0]!.order_id), 'status')).toBe('REFUNDED');
    const dlq = await readDlq(sale);
    expect(dlq.map((e) => e.headers.dlq_reason).sort()).toEqual(['invalid_order_format', 'payment_failed']);

    // drift: a unit appearing outside the scripts is caught by the audit
    await r.incr(itemKeys(sale, 'a').stock);
    await p.refresh();
    expect(await v(M.inventoryDrift, { item_id: 'a' })).toBe(-1);
    await r.decr(itemKeys(sale, 'a').stock);
    await p.refresh();
    expect(await v(M.inventoryDrift, { item_id: 'a' })).toBe(0);

    // over HTTP
    const health = await fetch(`http://127.0.0.1:${p.port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy', redis: true, kafka: true });
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
    for (const name of Object.values(M)) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toMatch(/processor_inventory_level\{item_id="b"\} 3/);
  });
});
