/**
 * The real processor on a hot item split into stock buckets (common/src/buckets.ts), on the single Redis and on the
 * Redis Cluster: K = 4 (and K = 16 on the cluster) under a burst of many more orders than units with ~20 % payment
 * failures ends with 0 oversold, 0 stranded (a later wave buys exactly the units left, first come first served, and
 * every bucket is then empty), confirmed + held + remaining == stock, every order final, no order confirmed twice and
 * no unit taken twice; holds that expire give their units back exactly once; a SIGKILL of the processor mid-burst and
 * a restart change no count.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  auditBucketed,
  bucketKeys,
  bucketLevels,
  callScript,
  channels,
  expireBucketed,
  type ItemAudit,
  itemKeys,
  PROCESSOR_METRICS as M,
  type OrderMessage,
  type RedisClient,
  reserveBucketed,
  seedBuckets,
  seedItem,
  settleBucketed,
  startBucket,
} from '@flashsale/common';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import type { PaymentProvider, PaymentResult } from '../src/payment.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  FINAL,
  makeOrders,
  metricValue,
  processorEnv,
  produce,
  REDIS_BACKENDS,
  type RedisBackend,
  redisAddr,
  spawnProcessor,
  statuses,
  tcpProxy,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

const running: ProcessorHandle[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(running.map((p) => p.stop()));
});

const [single, cluster] = REDIS_BACKENDS as [RedisBackend, RedisBackend];

/** ~20 % of the orders fail to pay (a stable hash of the order id); probe orders always pay. */
const failsToPay = (orderId: string) =>
  !orderId.includes('probe') && createHash('sha1').update(orderId).digest()[0]! % 5 === 0;

function payments(slowMs = 0): PaymentProvider {
  return {
    async charge(req): Promise<PaymentResult> {
      await new Promise((res) =>
        setTimeout(res, 1 + Math.random() * 8 + (slowMs && req.orderId.includes('slow') ? slowMs : 0)),
      );
      return failsToPay(req.orderId) ? { ok: false, reason: 'payment_failed', error: 'card declined' } : { ok: true };
    },
    async refund() {
      return { ok: true };
    },
  };
}

async function start(sale: string, b: RedisBackend, extra: Record<string, string>, payment: PaymentProvider) {
  const p = await startProcessor(loadConfig(processorEnv(sale, { ...b.env(), HOLD_TTL: '60s', ...extra })), {
    defaultMetrics: false,
    payment,
  });
  running.push(p);
  return p;
}

/** Counts the CONFIRMED status events per order (a second one would be an order confirmed twice). */
async function watchConfirms(b: RedisBackend, sale: string) {
  const sub = b.client();
  const confirmed = new Map<string, number>();
  sub.on('message', (_ch: string, text: string) => {
    const ev = JSON.parse(text) as { order_id: string; status: string };
    if (ev.status === 'CONFIRMED') confirmed.set(ev.order_id, (confirmed.get(ev.order_id) ?? 0) + 1);
  });
  await sub.subscribe(channels(sale).status);
  onTestFinished(() => sub.disconnect());
  return confirmed;
}

/** Units recorded as taken by orders in the item's buckets (seed markers `~...` left out). */
async function takenByOrders(r: RedisClient, sale: string, item: string, k: number): Promise<number> {
  let n = 0;
  for (let b = 0; b < k; b++) {
    const takes = await r.hgetall(bucketKeys(sale, item, b).takes);
    for (const [field, units] of Object.entries(takes)) if (!field.startsWith('~')) n += Number(units);
  }
  return n;
}

/** The books of a settled bucketed item: nothing oversold, lost, held, pending or taken twice. */
async function checkSettled(
  r: RedisClient,
  sale: string,
  item: string,
  k: number,
  stock: number,
  final: Map<string, string>,
) {
  const count = (s: string) => [...final.values()].filter((v) => v === s).length;
  await eventually('pending give-backs completed', async () => (await r.hlen(itemKeys(sale, item).gives)) === 0);
  const a: ItemAudit = await auditBucketed(r, sale, item, k);
  const levels = await bucketLevels(r, sale, item, k);
  expect(levels.every((x) => x >= 0)).toBe(true);
  expect(a).toMatchObject({ initial: stock, held: 0, holds: 0, drift: 0 });
  expect(a.confirmed).toBe(count('CONFIRMED'));
  expect(a.confirmed).toBeLessThanOrEqual(stock);
  expect(a.confirmed + a.held + a.remaining).toBe(stock);
  expect(a.released).toBe(count('PAYMENT_FAILED'));
  // a payment that landed after the hold expired is refunded: its units went back to stock like any expired hold's
  expect(a.expired).toBe(count('EXPIRED') + count('REFUNDED'));
  expect(a.refunded).toBe(count('REFUNDED'));
  // every unit out of the buckets belongs to exactly one confirmed order
  expect(await takenByOrders(r, sale, item, k)).toBe(a.confirmed);
  return a;
}

/**
 * Nothing stranded: once the burst settled, a wave of `remaining + extra` orders that all pay buys exactly the units
 * left, in topic order (first come, first served), the rest are sold out, and every bucket is empty afterwards.
 */
async function probe(r: RedisClient, sale: string, item: string, k: number, remaining: number, extra = 5) {
  const wave = makeOrders(sale, [item], remaining + extra, 'probe');
  await produce(sale, wave);
  const final = await waitAllFinal(r, sale, wave);
  expect(wave.map((o) => final.get(o.order_id))).toEqual([
    ...Array(remaining).fill('CONFIRMED'),
    ...Array(extra).fill('SOLD_OUT'),
  ]);
  expect(await bucketLevels(r, sale, item, k)).toEqual(Array(k).fill(0));
  return final;
}

const BURSTS = [
  { b: single, k: 4 },
  { b: cluster, k: 4 },
  { b: cluster, k: 16 },
];

describe.each(BURSTS)('processor on a hot item over K = $k buckets, $b.name Redis', ({ b, k }) => {
  it('a burst with ~20 % payment failures: 0 oversold, 0 stranded, every order final once', async () => {
    const sale = uniqueSale(`hb${k}${b.name[0]}`);
    const r = b.client();
    onTestFinished(() => r.disconnect());
    const STOCK = 120;
    expect(await seedBuckets(r, sale, 'hot', STOCK, k)).toMatchObject({ outcome: 'seeded', remaining: STOCK });
    await seedItem(r, sale, 'cold', 30); // a plain item beside it keeps the pipelined path
    const confirms = await watchConfirms(b, sale);
    const p = await start(sale, b, { PAYMENT_CONCURRENCY: '16' }, payments());

    const hot = makeOrders(sale, ['hot'], 600, 'b');
    const cold = makeOrders(sale, ['cold'], 80, 'c');
    await produce(sale, [...hot, ...cold]);
    const final = await waitAllFinal(r, sale, [...hot, ...cold]);
    const hotFinal = new Map([...final].filter(([id]) => id.startsWith('hot.')));
    const a = await checkSettled(r, sale, 'hot', k, STOCK, hotFinal);
    const count = (s: string) => [...hotFinal.values()].filter((v) => v === s).length;
    expect(count('CONFIRMED') + count('PAYMENT_FAILED') + count('SOLD_OUT')).toBe(hot.length);
    expect(count('PAYMENT_FAILED')).toBeGreaterThan(0);
    expect(count('SOLD_OUT')).toBeGreaterThan(0);
    // the plain item sold as before
    const coldFinal = [...final].filter(([id]) => id.startsWith('cold.')).map(([, s]) => s);
    expect(coldFinal.filter((s) => s === 'CONFIRMED').length).toBeLessThanOrEqual(30);

    // the units left are exactly what failed payments gave back after the last sold-out answer: a new wave buys them
    const probeFinal = await probe(r, sale, 'hot', k, a.remaining);
    const all = new Map([...hotFinal, ...probeFinal]);
    const end = await checkSettled(r, sale, 'hot', k, STOCK, all);
    expect(end).toMatchObject({ remaining: 0, confirmed: STOCK });
    // no order confirmed twice: one CONFIRMED event per confirmed order
    const hotConfirmed = () => [...confirms].filter(([id]) => id.startsWith('hot.'));
    await eventually('every confirm event', async () => hotConfirmed().length >= end.confirmed);
    const hotConfirms = hotConfirmed();
    expect(hotConfirms.every(([, n]) => n === 1)).toBe(true);
    expect(hotConfirms.length).toBe(end.confirmed);

    // the audit gauges sum the buckets: 0 drift at rest; a unit appearing in a bucket outside the scripts is caught
    const v = (name: string) => metricValue(p.metrics.registry, name, { item_id: 'hot' });
    await p.refresh();
    expect([await v(M.inventoryDrift), await v(M.inventoryLevel)]).toEqual([0, 0]);
    await r.incr(bucketKeys(sale, 'hot', k - 1).stock);
    await p.refresh();
    expect([await v(M.inventoryDrift), await v(M.inventoryLevel)]).toEqual([-1, 1]);
    await r.decr(bucketKeys(sale, 'hot', k - 1).stock);
  });
});

describe.each([single, cluster])('hold expiry of a bucketed item (K = 4), $name Redis', (b) => {
  it('holds that expire give their units back exactly once, also racing the settle and each other', async () => {
    const sale = uniqueSale(`hx${b.name[0]}`);
    const r = b.client();
    onTestFinished(() => r.disconnect());
    const k = 4;
    // the library under races: three sweeps and two settles of every expired hold at once
    await seedBuckets(r, sale, 'race', 40, k);
    const o = (n: number) => ({
      orderId: `race.o${n}`,
      itemId: 'race',
      userId: `u${n}`,
      quantity: 1,
      correlationId: 'c',
      requestId: 'r',
    });
    for (let n = 0; n < 40; n++) expect((await reserveBucketed(r, sale, o(n), 1, k)).status).toBe('RESERVED');
    await new Promise((res) => setTimeout(res, 5));
    await Promise.all([
      expireBucketed(r, sale, 'race', k, 7),
      expireBucketed(r, sale, 'race', k, 500),
      expireBucketed(r, sale, 'race', k, 13),
      ...Array.from({ length: 40 }, (_, n) =>
        settleBucketed(r, sale, 'race', o(n).orderId, 'EXPIRED', 'hold_expired', k),
      ),
      ...Array.from({ length: 40 }, (_, n) =>
        settleBucketed(r, sale, 'race', o(n).orderId, 'PAYMENT_FAILED', 'payment_failed', k),
      ),
    ]);
    const a = await auditBucketed(r, sale, 'race', k);
    expect(a).toMatchObject({ remaining: 40, held: 0, confirmed: 0, drift: 0 });
    expect(a.expired + a.released).toBe(40);
    expect(await takenByOrders(r, sale, 'race', k)).toBe(0);
    expect(await r.hlen(itemKeys(sale, 'race').gives)).toBe(0);

    // the processor: holds of 1 s, slow payments outlive them (the sweeper expires them, the late payment is
    // refunded through the DLQ), the others settle
    const STOCK = 40;
    await seedBuckets(r, sale, 'hot', STOCK, k);
    const p = await start(sale, b, { HOLD_TTL: '1s', SWEEP_INTERVAL: '100ms', PAYMENT_TIMEOUT: '5s' }, payments(2500));
    const orders: OrderMessage[] = makeOrders(sale, ['hot'], 90, 'x').map((m, n) =>
      n % 3 === 0 ? { ...m, order_id: `hot.slow${n}`, user_id: `slow-${n}` } : m,
    );
    await produce(sale, orders);
    const final = await waitAllFinal(r, sale, orders);
    const a2 = await checkSettled(r, sale, 'hot', k, STOCK, final);
    expect(a2.expired).toBeGreaterThan(0);
    // the sweeper expired some of them (the others expired at their late confirm: paid_after_expiry)
    expect(await metricValue(p.metrics.registry, M.holdsExpired)).toBeGreaterThan(0);
    await probe(r, sale, 'hot', k, a2.remaining);
  });
});

describe.each([single, cluster])('processor SIGKILL on a bucketed item (K = 4), $name Redis', (b) => {
  it('SIGKILL mid-burst and a restart change no count', async () => {
    const sale = uniqueSale(`hk${b.name[0]}`);
    const r = b.client();
    onTestFinished(() => r.disconnect());
    const k = 4;
    const STOCK = 300;
    await seedBuckets(r, sale, 'hot', STOCK, k);
    const confirms = await watchConfirms(b, sale);
    const env = processorEnv(sale, {
      ...b.env(),
      PAYMENT_FAILURE_RATE: '0.2',
      PAYMENT_SEED: 'bucket-crash',
      PAYMENT_LATENCY_MIN: '30ms',
      PAYMENT_LATENCY_MAX: '150ms',
      PAYMENT_TIMEOUT: '300ms',
      PAYMENT_CONCURRENCY: '8',
      HOLD_TTL: '60s',
    });
    const orders = makeOrders(sale, ['hot'], 1500, 'k');
    const first = spawnProcessor(env, children);
    await produce(sale, orders);
    // early in the burst: orders claimed ahead of their takes (CLAIMING), holds, and orders not read yet
    await eventually('a burst in progress', async () => (await auditBucketed(r, sale, 'hot', k)).held >= 20, 30_000, 5);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const before = await statuses(r, sale, orders);
    const open = [...before.values()].filter((v) => v === 'RESERVED' || v === 'CLAIMING' || v === 'MISSING');
    expect(open.length).toBeGreaterThan(0); // really killed in the middle
    const at = (st: string) => open.filter((v) => v === st).length;
    console.info(
      `[bucket-crash] ${b.name}: open at the kill ${open.length} (CLAIMING ${at('CLAIMING')}, RESERVED ${at('RESERVED')}, unread ${at('MISSING')})`,
    );

    const second = spawnProcessor(env, children);
    const final = await waitAllFinal(r, sale, orders);
    for (const [id, s] of before) if (!['RESERVED', 'CLAIMING', 'MISSING'].includes(s)) expect(final.get(id)).toBe(s);
    const a = await checkSettled(r, sale, 'hot', k, STOCK, final);
    const count = (s: string) => [...final.values()].filter((v) => v === s).length;
    expect(count('CONFIRMED') + count('PAYMENT_FAILED') + count('SOLD_OUT')).toBe(orders.length);
    await eventually('every confirm event', async () => confirms.size >= a.confirmed);
    expect([...confirms.values()].every((n) => n === 1)).toBe(true);
    expect(confirms.size).toBe(a.confirmed);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);

    // nothing stranded by the crash: the units left sell to a new wave, first come first served
    await start(sale, b, {}, payments());
    await probe(r, sale, 'hot', k, a.remaining);
  });
});

describe.each([single, cluster])('what a crash leaves of a bucketed item (K = 4), $name Redis', (b) => {
  it('the processor resumes an order left CLAIMING (its unit taken once) and the sweeper completes a give-back', async () => {
    const sale = uniqueSale(`hl${b.name[0]}`);
    const r = b.client();
    onTestFinished(() => r.disconnect());
    const k = 4;
    await seedBuckets(r, sale, 'hot', 8, k);
    const [claimed, failed, later] = makeOrders(sale, ['hot'], 3, 'left') as [OrderMessage, OrderMessage, OrderMessage];
    const home = itemKeys(sale, 'hot');
    const input = (o: OrderMessage) => ({
      orderId: o.order_id,
      itemId: o.item_id,
      userId: o.user_id,
      quantity: 1,
      correlationId: o.correlation_id,
      requestId: o.request_id,
    });
    // a first processor claimed `claimed` and took its unit, then died before the commit
    await callScript(
      r,
      'inventory_bucket_claim',
      [home.meta, home.order(claimed.order_id), home.user(claimed.user_id)],
      [claimed.order_id, claimed.user_id, 1, Date.now(), 'c', 'r', 'hot', channels(sale).status, 3600],
    );
    const start0 = startBucket(claimed.order_id, k);
    const bk = bucketKeys(sale, 'hot', start0);
    await callScript(r, 'inventory_bucket_take', [bk.stock, bk.takes], [claimed.order_id, 1, 'take', 3600]);
    // ... and settled `failed` as PAYMENT_FAILED in the home slot but died before giving its unit back
    expect((await reserveBucketed(r, sale, input(failed), 60_000, k)).status).toBe('RESERVED');
    const f = (await r.hget(home.order(failed.order_id), 'bucket'))!;
    await callScript(
      r,
      'inventory_bucket_settle',
      [home.meta, home.holds, home.order(failed.order_id), home.user(failed.user_id), home.gives],
      [failed.order_id, 'PAYMENT_FAILED', 'payment_failed', Date.now(), 'hot', channels(sale).status],
    );
    expect(await r.hget(home.gives, failed.order_id)).toBe(f);
    expect(await auditBucketed(r, sale, 'hot', k)).toMatchObject({ remaining: 6, held: 0, drift: 2 });

    // the restarted processor: the redelivered `claimed` resumes (no second unit), the sweeper gives `failed`'s back
    await start(sale, b, { SWEEP_INTERVAL: '100ms' }, payments());
    await produce(sale, [claimed, later]);
    const final = await waitAllFinal(r, sale, [claimed, later]);
    expect([...final.values()]).toEqual(['CONFIRMED', 'CONFIRMED']);
    expect(await r.hget(home.order(claimed.order_id), 'bucket')).toBe(String(start0));
    final.set(failed.order_id, 'PAYMENT_FAILED');
    const a = await checkSettled(r, sale, 'hot', k, 8, final);
    expect(a).toMatchObject({ confirmed: 2, released: 1, remaining: 6 });
  });
});

describe('Redis cut mid-burst on a bucketed item (K = 4), single Redis behind a proxy', () => {
  it('claims, takes and commits retried across the cuts: every order final, books exact, nothing stranded', async () => {
    const sale = uniqueSale('hcut');
    const r = single.client();
    onTestFinished(() => r.disconnect());
    const k = 4;
    const STOCK = 60;
    await seedBuckets(r, sale, 'hot', STOCK, k, 3);
    const proxy = await tcpProxy(redisAddr());
    onTestFinished(() => proxy.restore().then(() => proxy.close()));
    await start(
      sale,
      single,
      { REDIS_ADDR: proxy.addr, REDIS_RETRY_ATTEMPTS: '12', REDIS_RETRY_BASE: '50ms', REDIS_RETRY_MAX: '500ms' },
      payments(),
    );
    // some users order several times: the per-user limit (3) holds through the retries
    const orders = makeOrders(sale, ['hot'], 400, 'cut').map((m, n) => (n % 4 === 0 ? { ...m, user_id: 'greedy' } : m));
    await produce(sale, orders);
    await eventually('the burst started', async () => (await auditBucketed(r, sale, 'hot', k)).held > 0, 30_000, 5);
    let openAtCut = 0;
    for (let i = 0; i < 3; i++) {
      await proxy.cut();
      if (i === 0) openAtCut = [...(await statuses(r, sale, orders)).values()].filter((v) => !FINAL.has(v)).length;
      await new Promise((res) => setTimeout(res, 300));
      await proxy.restore();
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(openAtCut).toBeGreaterThan(0); // really cut in the middle
    const final = await waitAllFinal(r, sale, orders);
    const a = await checkSettled(r, sale, 'hot', k, STOCK, final);
    const greedy = orders.filter((o) => o.user_id === 'greedy').map((o) => final.get(o.order_id));
    expect(greedy.filter((s) => s === 'CONFIRMED').length).toBeLessThanOrEqual(3);
    expect(greedy.filter((s) => s === 'LIMIT_EXCEEDED').length).toBeGreaterThan(0);
    await probe(r, sale, 'hot', k, a.remaining);
  });
});
