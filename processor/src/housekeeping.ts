/** Periodic work: the hold sweeper, the inventory audit (drift + levels) and the offset-based gauges. */
import { auditSale, expireHolds, type Logger, listItems, type RedisClient } from '@flashsale/common';
import type { ProcessorConfig } from './config.ts';
import type { OrdersConsumer } from './consumer.ts';
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

export function sweepOnce(cfg: ProcessorConfig, redis: RedisClient, metrics: ProcessorMetrics, log: Logger) {
  return async () => {
    for (const item of await listItems(redis, cfg.sale)) {
      // bounded batches; keep going while the item still has due holds, at most 20 batches per tick
      for (let i = 0; i < 20; i++) {
        const r = await expireHolds(redis, cfg.sale, item, cfg.sweep.batch);
        if (r.orders > 0) {
          metrics.holdsExpired.inc(r.orders);
          log.info({ event: 'holds_expired', item_id: item, orders: r.orders, units: r.units }, 'Holds expired');
        }
        if (r.dueLeft === 0) break;
      }
    }
  };
}

export function auditOnce(cfg: ProcessorConfig, redis: RedisClient, metrics: ProcessorMetrics, log: Logger) {
  return async () => {
    for (const a of await auditSale(redis, cfg.sale)) {
      metrics.inventoryLevel.set({ item_id: a.itemId }, a.remaining);
      metrics.drift.set({ item_id: a.itemId }, a.drift);
      if (a.drift !== 0) log.error({ event: 'inventory_drift', item_id: a.itemId, ...a }, 'Inventory drift detected');
    }
  };
}

export function offsetsOnce(consumer: OrdersConsumer, metrics: ProcessorMetrics) {
  return async () => {
    const o = await consumer.offsets();
    for (const p of o.orders) metrics.consumerLag.set({ partition: String(p.partition) }, p.lag);
    metrics.dlqSize.set(o.dlq.reduce((n, p) => n + p.lag, 0));
    metrics.dlqOldestAge.set(o.dlqOldestTs === undefined ? 0 : Math.max(0, (Date.now() - o.dlqOldestTs) / 1000));
  };
}
