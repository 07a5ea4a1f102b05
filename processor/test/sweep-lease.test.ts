/**
 * The hold sweeper's per-item lease (processor/src/housekeeping.ts): with several processors on one sale each item is
 * swept by one processor per interval, every expired hold is expired exactly once, and when the processor holding
 * the leases dies (SIGKILL) another one sweeps its items once the leases expire. On the single Redis and the cluster.
 */
import type { ChildProcess } from 'node:child_process';
import {
  auditItem,
  createLogger,
  itemKeys,
  PROCESSOR_METRICS as M,
  type RedisClient,
  reserve,
  seedItem,
} from '@flashsale/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { sweepOnce } from '../src/housekeeping.ts';
import { createMetrics } from '../src/metrics.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import { metricValue, processorEnv, REDIS_BACKENDS, spawnProcessor, uniqueSale } from './support.ts';

const log = createLogger('sweep-lease-test', 'silent');
const children: ChildProcess[] = [];
const running: ProcessorHandle[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** `perItem` holds on each item whose deadline has already passed (due for the sweeper); returns their ids. */
async function dueHolds(r: RedisClient, sale: string, items: string[], perItem: number, tag: string) {
  const ids: { item: string; id: string }[] = [];
  const past = Date.now() - 10_000;
  for (const item of items)
    for (let n = 0; n < perItem; n++) {
      const id = `${item}.${tag}${n}`;
      const res = await reserve(
        r,
        sale,
        { orderId: id, itemId: item, userId: `u-${tag}${n}`, quantity: 1, correlationId: 'c', requestId: 'r' },
        1000,
        past,
      );
      expect(res.status).toBe('RESERVED');
      ids.push({ item, id });
    }
  return ids;
}

async function statusesOf(r: RedisClient, sale: string, holds: { item: string; id: string }[]) {
  return Promise.all(holds.map((h) => r.hget(itemKeys(sale, h.item).order(h.id), 'status')));
}

const leases = (r: RedisClient, sale: string, items: string[]) =>
  Promise.all(
    items.map(async (i) => ({
      token: await r.get(itemKeys(sale, i).sweepLease),
      ttl: await r.pttl(itemKeys(sale, i).sweepLease),
    })),
  );

describe.each(REDIS_BACKENDS)('sweep leases on $name Redis', (b) => {
  let r: RedisClient;
  beforeAll(async () => {
    r = b.client();
    await r.ping();
  });
  afterAll(() => r?.disconnect());

  it('two sweepers in one interval: each item swept by one of them, each due hold expired exactly once', async () => {
    const sale = uniqueSale('lease');
    const items = Array.from({ length: 8 }, (_, i) => `it${i}`);
    for (const i of items) await seedItem(r, sale, i, 10);
    const holds = await dueHolds(r, sale, items, 3, 'h');
    // a long interval: the leases outlive the test, so the outcome does not depend on timing
    const cfg = loadConfig(processorEnv(sale, { ...b.env(), SWEEP_INTERVAL: '30s' }));
    const [ma, mb] = [createMetrics(false), createMetrics(false)];
    const [sa, sb] = [sweepOnce(cfg, r, ma, log, undefined, 'A'), sweepOnce(cfg, r, mb, log, undefined, 'B')];
    const count = async (name: string, labels: Record<string, string> = {}) =>
      (await metricValue(ma.registry, name, labels)) + (await metricValue(mb.registry, name, labels));

    await Promise.all([sa(), sb()]);
    expect(await count(M.sweepItems, { result: 'swept' })).toBe(items.length);
    expect(await count(M.sweepItems, { result: 'leased_elsewhere' })).toBe(items.length);
    expect(await count(M.holdsExpired)).toBe(holds.length);
    expect(new Set(await statusesOf(r, sale, holds))).toEqual(new Set(['EXPIRED']));
    for (const l of await leases(r, sale, items)) {
      expect(['A', 'B']).toContain(l.token);
      expect(l.ttl).toBeGreaterThan(0);
      expect(l.ttl).toBeLessThanOrEqual(30_000);
    }
    for (const i of items) expect(await auditItem(r, sale, i)).toMatchObject({ held: 0, expired: 3, drift: 0 });

    // the next tick within the interval: nobody sweeps (new due holds wait for the leases)
    const later = await dueHolds(r, sale, items, 1, 'l');
    await Promise.all([sa(), sb()]);
    expect(await count(M.sweepItems, { result: 'swept' })).toBe(items.length);
    expect(new Set(await statusesOf(r, sale, later))).toEqual(new Set(['RESERVED']));

    // correctness does not rest on the lease: both sweeping every item at once still expires each hold once
    await Promise.all([sa(false), sb(false)]);
    expect(await count(M.holdsExpired)).toBe(holds.length + later.length);
    expect(new Set(await statusesOf(r, sale, later))).toEqual(new Set(['EXPIRED']));
    for (const i of items) expect(await auditItem(r, sale, i)).toMatchObject({ held: 0, expired: 4, drift: 0 });
  });

  it('two running processors on one sale: holds expired once, about one sweep per item per interval', async () => {
    const sale = uniqueSale('lease2');
    const items = Array.from({ length: 6 }, (_, i) => `it${i}`);
    for (const i of items) await seedItem(r, sale, i, 10);
    const env = processorEnv(sale, { ...b.env(), SWEEP_INTERVAL: '1s', AUDIT_INTERVAL: '1s' });
    const t0 = Date.now();
    const p1 = await startProcessor(loadConfig(env), { defaultMetrics: false });
    running.push(p1);
    const p2 = await startProcessor(loadConfig(env), { defaultMetrics: false });
    running.push(p2);
    const holds = await dueHolds(r, sale, items, 4, 'h');
    await eventually('every hold expired', async () =>
      (await statusesOf(r, sale, holds)).every((s) => s === 'EXPIRED') ? true : undefined,
    );
    // a few more intervals of both sweepers: each has visited every item (swept or leased elsewhere) 3 more times
    const visits = (p: ProcessorHandle) =>
      Promise.all(
        ['swept', 'leased_elsewhere'].map((result) => metricValue(p.metrics.registry, M.sweepItems, { result })),
      ).then(([a, b]) => (a ?? 0) + (b ?? 0));
    const [v1, v2] = [await visits(p1), await visits(p2)];
    await eventually(
      'three more sweeps of every item by both processors',
      async () => (await visits(p1)) >= v1 + 3 * items.length && (await visits(p2)) >= v2 + 3 * items.length,
      20_000,
    );
    const swept = [p1, p2].map((p) => metricValue(p.metrics.registry, M.sweepItems, { result: 'swept' }));
    const [s1, s2] = await Promise.all(swept);
    const intervals = (Date.now() - t0) / 1000;
    // one sweep per item per interval (the lease), plus the first ticks; without the lease it would be about twice
    expect(s1! + s2!).toBeLessThanOrEqual(items.length * (intervals + 2));
    expect(s1! + s2!).toBeGreaterThanOrEqual(items.length);
    const expired = await Promise.all([p1, p2].map((p) => metricValue(p.metrics.registry, M.holdsExpired)));
    expect(expired[0]! + expired[1]!).toBe(holds.length);
    // the audit stays on every processor: each one's drift gauge covers every item
    for (const p of [p1, p2]) {
      await p.refresh();
      for (const i of items) expect(await metricValue(p.metrics.registry, M.inventoryDrift, { item_id: i })).toBe(0);
    }
    for (const i of items) expect(await auditItem(r, sale, i)).toMatchObject({ held: 0, expired: 4, drift: 0 });
  });

  it('the lease holder killed with SIGKILL: another processor sweeps its items once the leases expire', async () => {
    const sale = uniqueSale('lease3');
    const items = Array.from({ length: 5 }, (_, i) => `it${i}`);
    for (const i of items) await seedItem(r, sale, i, 10);
    const a = spawnProcessor(processorEnv(sale, { ...b.env(), SWEEP_INTERVAL: '6s' }), children);
    // A sweeps at start-up and takes every item's lease for 6 s; kill it while they have most of that left
    const held = await eventually(
      "A's leases",
      async () => {
        const l = await leases(r, sale, items);
        return l.every((x) => x.token !== null && x.ttl > 4000) ? l : undefined;
      },
      30_000,
      20,
    );
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const tokenA = held[0]!.token;
    expect(held.every((l) => l.token === tokenA)).toBe(true);

    const holds = await dueHolds(r, sale, items, 2, 'h');
    // while A's leases live, another sweeper skips its items
    const cfg = loadConfig(processorEnv(sale, { ...b.env(), SWEEP_INTERVAL: '500ms' }));
    const mb = createMetrics(false);
    await sweepOnce(cfg, r, mb, log, undefined, 'B-probe')();
    expect(await metricValue(mb.registry, M.sweepItems, { result: 'leased_elsewhere' })).toBe(items.length);
    expect(new Set(await statusesOf(r, sale, holds))).toEqual(new Set(['RESERVED']));

    // a live processor takes over once they expire
    const p = await startProcessor(cfg, { defaultMetrics: false });
    running.push(p);
    await eventually(
      'the holds of the dead processor expired',
      async () => ((await statusesOf(r, sale, holds)).every((s) => s === 'EXPIRED') ? true : undefined),
      20_000,
    );
    expect(await metricValue(p.metrics.registry, M.holdsExpired)).toBe(holds.length);
    for (const l of await leases(r, sale, items)) expect(l.token).not.toBe(tokenA);
    for (const i of items) expect(await auditItem(r, sale, i)).toMatchObject({ held: 0, expired: 2, drift: 0 });
  });
});
