/**
 * Periodic work: the hold sweeper (each item swept by one processor per interval, under a lease), the inventory audit
 * (drift + levels, on every processor) and the offset-based gauges. An item seeded
 * over K > 1 stock buckets (./buckets.ts) is swept with expireBucketed (units back to their bucket, exactly once, and
 * any give-back a crash left pending completed) and audited with auditBucketed (remaining summed over the buckets).
 */
import { randomUUID } from 'node:crypto';
import {
  auditBucketed,
  auditItem,
  DLQ_REASONS,
  expireBucketed,
  type ItemAudit,
  itemKeys,
  type Logger,
  listItems,
  type RedisClient,
} from '@flashsale/common';
import { type BucketCounts, createBucketCounts } from './buckets.ts';
import { type Clock, systemClock } from './clock.ts';
import type { ProcessorConfig } from './config.ts';
import type { OrdersConsumer } from './consumer.ts';
import { DriftStreaks } from './drift-streaks.ts';
import type { ProcessorMetrics } from './metrics.ts';

/** Run `fn` every `ms`, never overlapping itself; returns a stopper that waits for a run in progress. */
export function every(ms: number, log: Logger, what: string, fn: () => Promise<void>): () => Promise<void> {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    running = fn()
      .catch((e) => log.warn({ event: `${what}_failed`, err: (e as Error).message }, `${what} failed`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, ms);
      });
  };
  timer = setTimeout(tick, 0);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/**
 * The hold sweeper. Each item is swept by one processor per interval, not by all: before sweeping an item a processor
 * takes the item's lease (`SET <sweepLease> <token> NX PX <SWEEP_INTERVAL>`, in the item's slot); a processor that
 * finds the lease taken skips the item, and the lease of a processor that died expires by itself, so another one
 * sweeps the item at most about two intervals later. The lease only saves work: the expire scripts are idempotent
 * (a hold is expired once even when two processors sweep it at the same time). `sweep(false)` sweeps every item
 * without a lease (the handle's `refresh()`).
 */
export function sweepOnce(
  cfg: ProcessorConfig,
  redis: RedisClient,
  metrics: ProcessorMetrics,
  log: Logger,
  counts: BucketCounts = createBucketCounts(redis, cfg.sale),
  token: string = randomUUID(),
  clock: Clock = systemClock,
) {
  const leaseMs = Math.max(1, Math.round(cfg.sweep.intervalMs));
  const take = (item: string) =>
    redis.set(itemKeys(cfg.sale, item).sweepLease, token, 'PX', leaseMs, 'NX').then((r) => r === 'OK');
  return async (leased = true) => {
    const items = await listItems(redis, cfg.sale);
    // the leases of all items as concurrent commands (one round trip), then the sweeps of the items this processor got
    const got = leased ? await Promise.all(items.map(take)) : items.map(() => true);
    const mine = items.filter((_, i) => got[i]);
    if (items.length > mine.length) metrics.sweepItems.inc({ result: 'leased_elsewhere' }, items.length - mine.length);
    for (const item of mine) {
      metrics.sweepItems.inc({ result: 'swept' });
      const k = await counts.get(item);
      // bounded batches; keep going while the item still has due holds, at most 20 batches per tick
      for (let i = 0; i < 20; i++) {
        const r = await expireBucketed(redis, cfg.sale, item, k, cfg.sweep.batch, clock.now());
        if (r.orders > 0) {
          metrics.holdsExpired.inc(r.orders);
          log.info({ event: 'holds_expired', item_id: item, orders: r.orders, units: r.units }, 'Holds expired');
        }
        if (r.dueLeft === 0) break;
      }
    }
  };
}

/**
 * The audit of a bucketed item reads the home slot and each bucket one after the other, so an order between two
 * steps (taken but not committed, settled but not given back) shows as a passing drift. Read up to five times, a
 * little apart, and keep the smallest: a real drift is in every read.
 */
async function auditSettled(redis: RedisClient, sale: string, item: string, k: number): Promise<ItemAudit> {
  let best = await auditBucketed(redis, sale, item, k);
  for (let i = 0; i < 4 && best.drift !== 0; i++) {
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 30));
    const a = await auditBucketed(redis, sale, item, k);
    if (Math.abs(a.drift) < Math.abs(best.drift)) best = a;
  }
  return best;
}

export function auditOnce(
  cfg: ProcessorConfig,
  redis: RedisClient,
  metrics: ProcessorMetrics,
  log: Logger,
  counts: BucketCounts = createBucketCounts(redis, cfg.sale),
) {
  const streaks = new DriftStreaks();
  return async () => {
    const items = await listItems(redis, cfg.sale);
    const audits = await Promise.all(
      items.map(async (item) => {
        const k = await counts.get(item);
        return k > 1 ? auditSettled(redis, cfg.sale, item, k) : auditItem(redis, cfg.sale, item);
      }),
    );
    for (const a of audits) {
      metrics.inventoryLevel.set({ item_id: a.itemId }, a.remaining);
      metrics.drift.set({ item_id: a.itemId }, a.drift);
      const level = streaks.level(a.itemId, a.drift, Date.now());
      if (level) log[level]({ event: 'inventory_drift', item_id: a.itemId, ...a }, 'Inventory drift detected');
    }
  };
}

/**
 * The offset-based gauges: the group's lag per partition (every processor reports the same numbers, so a query takes
 * one value per partition; the autoscaler and the alert read the operator's `flashsale_consumer_lag` instead), and
 * the DLQ backlog by reason (every known reason reported, 0 when it has none), so the alerts can leave out the
 * business outcomes (BUSINESS_OUTCOME_DLQ_REASONS).
 */
export function offsetsOnce(consumer: OrdersConsumer, metrics: ProcessorMetrics) {
  return async () => {
    const o = await consumer.offsets();
    for (const p of o.orders) metrics.consumerLag.set({ partition: String(p.partition) }, p.lag);
    const now = Date.now();
    metrics.dlqSize.reset();
    metrics.dlqOldestAge.reset();
    for (const reason of DLQ_REASONS) {
      metrics.dlqSize.set({ reason }, 0);
      metrics.dlqOldestAge.set({ reason }, 0);
    }
    for (const [reason, b] of o.dlqByReason) {
      metrics.dlqSize.set({ reason }, b.count);
      metrics.dlqOldestAge.set({ reason }, b.oldestTs === undefined ? 0 : Math.max(0, (now - b.oldestTs) / 1000));
    }
  };
}
