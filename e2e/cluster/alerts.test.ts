/**
 * The sale's alerts evaluated by a real Prometheus (managed by the Prometheus Operator, which picks up the operator's
 * PrometheusRule and ServiceMonitor by their labels, as kube-prometheus-stack's does) on real sales on the real node:
 * - a normal sale that sells out with the default 10 % payment failures: no alert, not even pending, although the
 *   refusals and declines are there (the seed's expressions would have paged: checked on the same data);
 * - stock changed by hand in Redis: FlashSaleInventoryDrift fires, and resolves when the change is undone;
 * - processors stopped (replicas 0) under 1,200 orders: FlashSaleConsumerLagHigh fires (the lag is the operator's,
 *   read from the brokers: it needs no processor), and resolves once they run again;
 * - Kafka stopped: FlashSaleCircuitBreakerOpen fires for the gateway that keeps failing to send.
 * Each alert waits out its rule's `for` (1 to 5 minutes): the lag sale is loaded first so its 5 minutes run beside
 * the other cases.
 */
import { join } from 'node:path';
import { itemKeys } from '@flashsale/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runOk } from '../packaging/support.ts';
import { BurstLog, burst, placeAll, postOrder } from '../support/load.ts';
import { eventually } from '../support/services.ts';
import {
  type AlertState,
  alertsOf,
  monitoredSale,
  promNumber,
  useMetricsCluster,
  waitRulesLoaded,
  waitScraped,
} from './metrics-support.ts';
import { applyAndWaitReady, auditCluster, type Json, podsOf } from './support.ts';

const { c, metrics } = useMetricsCluster('rc-alerts');
const NORMAL = 'normal-sale';
const DRIFT = 'drift-sale';
const LAG = 'lag-sale';
const BREAKER = 'breaker-sale';
const LAG_ORDERS = 1200;
let lagAccepted = new Map<string, string>();
/** attempts of the lag sale's orders that were retried after no answer or a 503 (each may have been written too) */
let lagRetried = 0;

const firing = (a: AlertState[], name: string) => a.some((x) => x.alertname === name && x.alertstate === 'firing');
const describeAlerts = (a: AlertState[]) => a.map((x) => `${x.alertname}:${x.alertstate}`).join(', ') || 'none';

/** Waits until `alert` fires for the sale; returns the seconds it took. */
async function waitFiring(sale: string, alert: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last: AlertState[] = [];
  await eventually(
    `${alert} firing for ${sale}`,
    async () => {
      last = await alertsOf(metrics, c.ns, sale);
      return firing(last, alert);
    },
    timeoutMs,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; alerts now: ${describeAlerts(last)}`);
  });
  return Math.round((Date.now() - t0) / 1000);
}

async function waitQuiet(sale: string, alert: string, timeoutMs = 120_000): Promise<void> {
  await eventually(
    `${alert} resolved for ${sale}`,
    async () => !(await alertsOf(metrics, c.ns, sale)).some((x) => x.alertname === alert),
    timeoutMs,
  );
}

beforeAll(async () => {
  const loose = (m: Json) => {
    // the crowds of one machine come from one address: the per-IP bucket would refuse most of them
    m.spec.gateway.env = [{ name: 'RATE_LIMIT_IP_MAX_REQUESTS', value: '1000000' }];
  };
  const sales = [
    monitoredSale(metrics, NORMAL),
    monitoredSale(metrics, DRIFT),
    monitoredSale(metrics, LAG, (m) => {
      loose(m);
      m.spec.items = [{ id: 'item-l', quantity: 5000, perUserLimit: 1 }];
      m.spec.processor.replicas = 0; // the processors stopped
    }),
    monitoredSale(metrics, BREAKER, (m) => {
      loose(m);
      m.spec.processor.replicas = 0;
      // once open, the breaker stays open (no half-open trial) for longer than the alert's minute
      m.spec.gateway.circuitBreaker = {
        failureThreshold: 5,
        successThreshold: 2,
        baseTimeout: '10m',
        maxTimeout: '10m',
      };
    }),
  ];
  await Promise.all(sales.map((m) => applyAndWaitReady(c, m, 300_000)));
  await Promise.all(
    sales.map(async (m) => {
      await waitRulesLoaded(metrics, c.ns, m.metadata.name);
      if (m.spec.processor.replicas !== 0) await waitScraped(metrics, c, m.metadata.name);
    }),
  );
  // the lag sale's orders go in first: its alert waits 5 minutes, while the other cases run
  const gw = await c.serviceAddr(`${LAG}-gateway`);
  // placed as a patient client (a late answer or a 503 retried with the same key): the backlog is what counts here
  const log = await placeAll(`http://${gw}`, { items: ['item-l'], total: LAG_ORDERS, concurrency: 16 });
  console.log(`[alerts] ${LAG_ORDERS} orders placed; every attempt by status: ${JSON.stringify(log.byStatus())}`);
  expect(log.accepted.size).toBe(LAG_ORDERS);
  lagAccepted = log.accepted;
  lagRetried = log.count((a) => a.status === 0 || a.status === 503);
}, 900_000);

describe("alerts evaluated by the Prometheus Operator's Prometheus on real sales", () => {
  it('a normal sell-out with the default payment failures raises no alert, not even a pending one', async () => {
    const gateway = await c.serviceAddr(`${NORMAL}-gateway`);
    const redis = await c.serviceAddr('redis-service', 6379);
    let sendSeconds = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const out = await runOk(
        join(ROOT, 'cli/bin/flashsale'),
        [
          'load',
          '--url',
          `http://${gateway}`,
          '--sale',
          NORMAL,
          '--redis',
          redis,
          '--users',
          '400',
          '--attempts',
        ].concat(['700', '--seed', String(seed), '--settle', '90', '--no-progress', '-o', 'json']),
        { timeoutMs: 240_000 },
      );
      const report = JSON.parse(out);
      expect(report.ok, out).toBe(true);
      sendSeconds += (report.burstMs ?? 0) / 1000;
      if (report.verification.units.remaining === 0) break;
    }
    console.log(`[alerts] normal sell-out: the crowds sent for ${sendSeconds.toFixed(0)} s`);
    const books = await auditCluster(c, NORMAL, new Map());
    expect([books.confirmed, books.remaining, books.oversold, books.drift]).toEqual([150, 0, 0, 0]);
    // sold out as Prometheus sees it (the processor's audit every 5 s, scraped every 5 s), then one more evaluation,
    // so what the rules saw while units were still left (1 to 9 of an item: FlashSaleInventoryLow pending) is over
    await eventually(
      'the sell-out in Prometheus',
      async () =>
        (await promNumber(metrics, `max(processor_inventory_level{namespace="${c.ns}",sale="${NORMAL}"})`)) === 0,
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2 * metrics.scrapeSeconds * 1000));

    // Buyers who come after the sell-out are refused by the gateway's sold-out fast path: the SOLD_OUT refusals the
    // failure rules must not count. A crowd whose last orders took the last units leaves none (the gateway queued
    // every order before the processor sold out: the gateway learns of it from its stock poll, and a fast one takes
    // a whole crowd in that second), so late buyers come, as after any sell-out, until LATE_REFUSED are refused.
    const LATE_REFUSED = 300;
    const late = new BurstLog();
    const soldOut = (a: { status: number; code?: string | undefined }) => a.status === 409 && a.code === 'SOLD_OUT';
    await eventually(
      `${LATE_REFUSED} late buyers refused SOLD_OUT by the gateway`,
      async () => {
        const body = { user_id: `late-${late.answers.length}`, item_id: 'sneaker-42', quantity: 1 };
        await postOrder(`http://${gateway}`, body, late);
        return late.count(soldOut) >= LATE_REFUSED;
      },
      // at most 50 a second: the per-IP bucket the crowds drained refills at 10 a second (its 429s are refusals too)
      90_000,
      20,
    );

    // what the rules read is there: refusals (sold out, limits, rate limits) and declined payments in the DLQ
    const sel = `namespace="${c.ns}",sale="${NORMAL}"`;
    await eventually(
      'the sell-out scraped',
      async () => ((await promNumber(metrics, `sum(gateway_orders_failed_total{${sel},reason="SOLD_OUT"})`)) ?? 0) > 0,
      60_000,
    );
    expect(await promNumber(metrics, `sum(processor_dlq_size{${sel},reason=~"payment_.*"})`)).toBeGreaterThan(0);
    // the seed runbook's expression, failed / received (every refusal a failure), is far above its 10 % (0.46-0.57
    // in CI runs) once Prometheus has scraped the refusals; one run read 0.036 from a scrape that had only the first
    // of them, so read it until the scrapes carry them (the threshold stays). A crowd taken in whole before the
    // sell-out leaves only the late buyers' refusals: 0.041 in one CI run before they were LATE_REFUSED.
    const seedExpr = `sum(gateway_orders_failed_total{${sel}}) / sum(gateway_orders_received_total{${sel}})`;
    let seedShare: number | null | undefined;
    await eventually(
      'the refusals scraped (failed / received above 10 %)',
      async () => {
        seedShare = await promNumber(metrics, seedExpr);
        return (seedShare ?? 0) > 0.1;
      },
      60_000,
    ).catch(() => undefined);
    expect(seedShare).toBeGreaterThan(0.1);
    console.log(`[alerts] normal sell-out: failed / received = ${seedShare?.toFixed(2)} (the seed's expression)`);

    // 90 s of evaluations every 5 s after the sell-out: nothing firing, nothing even pending but the info alert on
    // rising 429s, which the crowd's retries start (it fires only after 10 minutes of them; the crowds sent for
    // `sendSeconds` in all, and the rule's 5-minute rate window empties before its 10 minutes are up)
    const until = Date.now() + 90_000;
    while (Date.now() < until) {
      const now = await alertsOf(metrics, c.ns, NORMAL);
      expect(describeAlerts(now.filter((a) => a.alertname !== 'FlashSaleRateLimitRejectionsRising'))).toBe('none');
      expect(now.filter((a) => a.alertstate === 'firing')).toEqual([]);
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }, 900_000);

  it('stock changed by hand in Redis: FlashSaleInventoryDrift fires, and resolves once undone', async () => {
    const r = await c.redis();
    const stock = itemKeys(DRIFT, 'sneaker-42').stock;
    await r.incrby(stock, 3);
    try {
      const s = await waitFiring(DRIFT, 'FlashSaleInventoryDrift', 360_000);
      console.log(`[alerts] FlashSaleInventoryDrift fired ${s} s after the stock was changed by hand (for: 2m)`);
      const a = (await alertsOf(metrics, c.ns, DRIFT)).find((x) => x.alertname === 'FlashSaleInventoryDrift');
      expect(a?.labels).toMatchObject({ item_id: 'sneaker-42', severity: 'critical' });
    } finally {
      await r.decrby(stock, 3);
    }
    await waitQuiet(DRIFT, 'FlashSaleInventoryDrift');
  }, 600_000);

  it('processors stopped under 1,200 orders: FlashSaleConsumerLagHigh fires, and resolves once they run', async () => {
    const s = await waitFiring(LAG, 'FlashSaleConsumerLagHigh', 480_000);
    console.log(`[alerts] FlashSaleConsumerLagHigh firing (waited ${s} s more in this test; for: 5m)`);
    // every order once, and a copy of a retried one only if its first send timed out yet was written
    const lag = (await promNumber(metrics, `max(flashsale_consumer_lag{namespace="${c.ns}",sale="${LAG}"})`)) ?? 0;
    expect(lag).toBeGreaterThanOrEqual(LAG_ORDERS);
    expect(lag - LAG_ORDERS).toBeLessThanOrEqual(lagRetried);
    expect(await podsOf(c, LAG, 'processor')).toEqual([]);
    await c.kubectl(['patch', 'flashsale', LAG, '--type', 'merge', '-p', '{"spec":{"processor":{"replicas":1}}}']);
    await waitQuiet(LAG, 'FlashSaleConsumerLagHigh', 300_000);
    const books = await auditCluster(c, LAG, lagAccepted, undefined, 120_000);
    expect([books.lost, books.oversold, books.drift]).toEqual([0, 0, 0]);
  }, 900_000);

  it('Kafka stopped: FlashSaleCircuitBreakerOpen fires for the gateway that keeps failing', async () => {
    const kafka = (
      await c.kubectl(['get', 'statefulset', '-l', 'flashsale.dev/quickstart=kafka', '-o', 'name'])
    ).trim();
    await c.kubectl(['scale', kafka, '--replicas=0']);
    try {
      await eventually(
        'the Kafka pod gone',
        async () =>
          (await c.kubectl(['get', 'pods', '-l', 'flashsale.dev/quickstart=kafka', '-o', 'name'])).trim() === '',
        180_000,
      );
      // the gateway turns unready without Kafka (out of its Service): send to the pod itself until its breaker opens
      const pod = (await podsOf(c, BREAKER, 'gateway'))[0]!;
      const port = pod.spec.containers[0].ports.find((p: Json) => p.name === 'http').containerPort;
      const url = `http://${pod.status.podIP}:${port}`;
      const breaker = `max(gateway_circuit_breaker_state{namespace="${c.ns}",sale="${BREAKER}"})`;
      const sent = new BurstLog();
      await eventually(
        'the breaker open (1) after failed sends',
        async () => {
          await burst(url, { items: ['sneaker-42'], total: 2, concurrency: 2, log: sent });
          return (await promNumber(metrics, breaker)) === 1;
        },
        180_000,
      );
      expect(sent.count((a) => a.status === 202)).toBe(0);
      expect(sent.count((a) => a.code === 'BROKER_UNAVAILABLE')).toBeGreaterThan(0);
      const s = await waitFiring(BREAKER, 'FlashSaleCircuitBreakerOpen', 300_000);
      console.log(`[alerts] FlashSaleCircuitBreakerOpen fired ${s} s after the breaker opened (for: 1m)`);
      const a = (await alertsOf(metrics, c.ns, BREAKER)).find((x) => x.alertname === 'FlashSaleCircuitBreakerOpen');
      expect(a?.labels).toMatchObject({ pod: pod.metadata.name, severity: 'critical' });
    } finally {
      await c.kubectl(['scale', kafka, '--replicas=1']);
    }
  }, 900_000);
});
