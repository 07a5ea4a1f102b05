/**
 * The payment provider misbehaving for a whole burst through the real gateway and processor processes:
 * - failing (every payment declined): every order ends PAYMENT_FAILED, dead-lettered once, its units back in stock
 *   exactly once;
 * - slow (every payment answers after the hold's deadline, or hangs until the payment timeout): the holds expire,
 *   a late success ends REFUNDED (refunded once), a hang PAYMENT_FAILED or EXPIRED; every unit back exactly once, no late
 *   payment confirms anything.
 */
import { DLQ_HEADERS, PROCESSOR_METRICS, type RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlqOrderId, readDlq } from '../../processor/test/support.ts';
import { assertBooks, auditRun, redisOf, StatusWatch } from '../support/audit.ts';
import { BurstLog, burst } from '../support/load.ts';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { recordFault } from '../support/report.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { eventually, requireService } from '../support/services.ts';

let redis: RedisClient;
const procs: Proc[] = [];
const watches: StatusWatch[] = [];

beforeAll(() => {
  redis = redisOf(requireService('redis').addr);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  for (const w of watches) w.close();
  redis?.disconnect();
});

/** The processor's count of orders given their final word (after the payment answered or timed out, and any refund). */
async function processedOrders(p: Proc): Promise<number> {
  const text = await (await fetch(`${p.url}/metrics`)).text();
  const m = new RegExp(`^${PROCESSOR_METRICS.ordersProcessed} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * One burst of 80 orders through a real gateway and processor with the payment behaviour of `processorEnv`, audited
 * once the processor has given every accepted order its final word: an order the sweeper expired already reads final
 * in Redis while its payment may still land and turn it into a refund (on a quick machine the sweeper expired all 80
 * before the first late payment landed, and an audit taken then saw no refund).
 */
async function run(prefix: string, processorEnv: Record<string, string>) {
  const sale = uniqueSale(prefix);
  const items = { cam: 100, lens: 100 };
  const redisAddr = requireService('redis').addr;
  await prepareSale({ redis, brokers: requireService('kafka').brokers, sale, items, partitions: 2 });
  const watch = await new StatusWatch(redisAddr, sale).start();
  watches.push(watch);
  const env = saleProcEnv(sale, redisAddr, requireService('kafka').brokers);
  const [gw, p] = await Promise.all([startGateway(env), startProcessor({ ...env, ...processorEnv })]);
  procs.push(gw, p);
  const t0 = Date.now();
  const log = await burst(gw.url, { items: Object.keys(items), total: 80, concurrency: 4, log: new BurstLog() });
  await eventually(
    'the processor to finish every accepted order',
    async () => (await processedOrders(p)) >= log.accepted.size,
    40_000,
  );
  const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 40_000 });
  return { sale, log, audit, allFinalMs: Date.now() - t0, watch };
}

describe('payment provider faults', () => {
  it('failing provider (rate 1.0): every order PAYMENT_FAILED, dead-lettered once, stock back exactly once', async () => {
    const { sale, log, audit, allFinalMs, watch } = await run('fpayfail', {
      PAYMENT_FAILURE_RATE: '1',
      PAYMENT_TIMEOUT_SHARE: '0',
      HOLD_TTL: '30s',
    });
    const dlq = await readDlq(sale);
    await recordFault(
      {
        scenario: 'payment-failing',
        fault: 'payment provider declines every payment (rate 1.0)',
        faults: audit.statuses.PAYMENT_FAILED ?? 0,
        inFlight: audit.accepted,
        recoveryMs: allFinalMs,
        recoveryOf: 'burst start -> every order final',
        refused: Object.fromEntries(Object.entries(log.byStatus()).filter(([s]) => s !== '202')),
        notes:
          `${audit.accepted} orders, all declined: released ${audit.released} units, remaining ${audit.remaining} of ` +
          `${audit.initial}; ${dlq.length} dead letters (reason payment_failed), one per order.`,
        test: 'e2e/faults/payment.test.ts',
      },
      audit,
    );
    assertBooks(audit);
    expect(audit.accepted).toBe(80);
    expect(audit.statuses).toEqual({ PAYMENT_FAILED: 80 });
    // stock returned exactly once: every unit back, the release counter equals the orders
    expect(audit.remaining).toBe(audit.initial);
    expect(audit.released).toBe(80);
    expect(audit.confirmed).toBe(0);
    expect(watch.repeated('PAYMENT_FAILED')).toEqual([]);
    // each failed order dead-lettered exactly once, with its reason
    const ids = dlq.map(dlqOrderId);
    expect(new Set(ids)).toEqual(new Set(log.accepted.keys()));
    expect(ids).toHaveLength(80);
    expect(new Set(dlq.map((e) => e.headers[DLQ_HEADERS.reason]))).toEqual(new Set(['payment_failed']));
  }, 90_000);

  it('slow provider (answers after the hold deadline, or never): holds expire, stock back exactly once', async () => {
    const { log, audit, allFinalMs, watch } = await run('fpayslow', {
      // half the payments succeed after 1.2-1.6 s (the hold lasts 1 s), half hang until the 2.5 s timeout
      PAYMENT_FAILURE_RATE: '0.5',
      PAYMENT_TIMEOUT_SHARE: '1',
      PAYMENT_LATENCY_MIN: '1200ms',
      PAYMENT_LATENCY_MAX: '1600ms',
      PAYMENT_TIMEOUT: '2500ms',
      HOLD_TTL: '1s',
      SWEEP_INTERVAL: '200ms',
    });
    await recordFault(
      {
        scenario: 'payment-slow',
        fault: 'payment slower than the 1 s hold (half late successes, half timeouts)',
        faults: audit.accepted,
        inFlight: audit.accepted,
        recoveryMs: allFinalMs,
        recoveryOf: 'burst start -> every order final',
        refused: Object.fromEntries(Object.entries(log.byStatus()).filter(([s]) => s !== '202')),
        notes:
          `${audit.accepted} orders: statuses ${JSON.stringify(audit.statuses)}; expired ${audit.expired} units ` +
          `(refunded ${audit.refunded}), ` +
          `released ${audit.released}; remaining ${audit.remaining} of ${audit.initial}; ` +
          `${watch.count('CONFIRMED')} confirmations.`,
        test: 'e2e/faults/payment.test.ts',
      },
      audit,
    );
    assertBooks(audit);
    expect(audit.accepted).toBe(80);
    // no payment that landed after the deadline confirmed anything; every hold went back once
    expect(audit.confirmed).toBe(0);
    expect(watch.count('CONFIRMED')).toBe(0);
    expect(audit.remaining).toBe(audit.initial);
    expect(audit.expired + audit.released).toBe(80);
    // a payment that succeeded after the deadline is refunded (REFUNDED, once); one that hung ends PAYMENT_FAILED (or
    // EXPIRED when the sweeper came first)
    const refunded = audit.statuses.REFUNDED ?? 0;
    expect(refunded + (audit.statuses.EXPIRED ?? 0) + (audit.statuses.PAYMENT_FAILED ?? 0)).toBe(80);
    expect(refunded).toBeGreaterThan(0);
    expect(audit.refunded).toBe(refunded);
    expect(watch.repeated('EXPIRED')).toEqual([]);
    expect(watch.repeated('REFUNDED')).toEqual([]);
  }, 90_000);
});
