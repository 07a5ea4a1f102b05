/**
 * The stuck-order sweeper: every 202 reaches a final status even when its Kafka message never reaches a processor
 * (lost by the broker, a topic deleted and recreated, a bug). Part of the processor's housekeeping: one processor per
 * STUCK_SWEEP_INTERVAL (a sale-wide lease, as the hold sweeper leases items) scans the sale's order records (SCAN over
 * every master; a read) for orders still QUEUED although the group has handled every message written up to
 * STUCK_ORDER_AFTER after they were last sent (./handled-horizon.ts: an order merely waiting in a backlog, behind
 * stopped or slow processors or hanging payments, is not stuck and is never sent twice), and
 *  1. re-publishes each one to the orders topic, keyed by its item as the gateway sends it (the processor acts only on
 *     an absent or QUEUED record, so a copy of an order already in flight is harmless), up to
 *     STUCK_REPUBLISH_ATTEMPTS times;
 *  2. then, once the group has handled the last copy too (the same test from its re-send), finalizes it REJECTED with
 *     reason `not_processed` (lua/order_stuck.lua: only while still QUEUED; it holds no stock, so nothing else changes).
 * Each action counts in processor_orders_stuck_total{action}; the FlashSaleOrdersStuck alert fires on any.
 */
import {
  callScript,
  channels,
  encodeOrder,
  itemOfOrderId,
  type Logger,
  type OrderMessage,
  orderKeyGlob,
  orderMessageHeaders,
  type PartitionLag,
  type RedisClient,
  saleKeys,
  scanPages,
  topics,
} from '@flashsale/common';
import type { ProcessorConfig } from './config.ts';
import { HandledHorizon } from './handled-horizon.ts';
import type { ProcessorMetrics } from './metrics.ts';
import type { DlqProducer } from './producer.ts';

export const NOT_PROCESSED = 'not_processed';
const FIELDS = [
  'status',
  'user_id',
  'quantity',
  'request_id',
  'correlation_id',
  'created_at',
  'updated_at',
  'republished',
  'republished_at',
] as const;

interface Stuck {
  key: string;
  orderId: string;
  itemId: string;
  fields: Record<(typeof FIELDS)[number], string | null>;
  /** re-sends so far */
  republished: number;
}

export interface StuckSweepDeps {
  cfg: ProcessorConfig;
  redis: RedisClient;
  producer: Pick<DlqProducer, 'send'>;
  /** the processor group's offsets on the orders topic, per partition */
  offsets: () => Promise<PartitionLag[]>;
  metrics: ProcessorMetrics;
  log: Logger;
  token: string;
  now?: () => number;
}

const orderIdOfKey = (key: string) => key.slice(key.lastIndexOf(':order:') + ':order:'.length);

/** Order hashes per call of the find script at most: bounds how long one call holds Redis. */
const FIND_CHUNK = 1000;

/**
 * Every QUEUED order of the sale last sent before `before` (ms), read page by page over the masters. The statuses
 * are read in Redis (lua/order_stuck_find.lua, one call per item and chunk of a page): nearly every order is final, and
 * one reply per order made a sweep over a big sale a real share of the processor's CPU.
 */
async function findStuck(redis: RedisClient, sale: string, before: number): Promise<Stuck[]> {
  const out: Stuck[] = [];
  await scanPages(redis, orderKeyGlob(sale), async (_node, keys) => {
    const byItem = new Map<string, string[]>();
    for (const k of keys) {
      const tag = k.slice(0, k.indexOf('}'));
      const list = byItem.get(tag);
      if (list) list.push(k);
      else byItem.set(tag, [k]);
    }
    for (const list of byItem.values()) {
      for (let i = 0; i < list.length; i += FIND_CHUNK) {
        const chunk = list.slice(i, i + FIND_CHUNK);
        const flat = (await callScript(redis, 'order_stuck_find', [chunk[0]!], [before, ...chunk])) as (
          | string
          | null
        )[];
        for (let j = 0; j < flat.length; j += FIELDS.length + 1) {
          const key = flat[j]!;
          const fields = Object.fromEntries(FIELDS.map((f, n) => [f, flat[j + 1 + n] ?? null])) as Stuck['fields'];
          const orderId = orderIdOfKey(key);
          out.push({
            key,
            orderId,
            itemId: itemOfOrderId(orderId),
            fields,
            republished: Number(fields.republished) || 0,
          });
        }
      }
    }
  });
  return out;
}

export function stuckSweepOnce(d: StuckSweepDeps) {
  const { cfg, redis, log, metrics } = d;
  const now = d.now ?? Date.now;
  const sale = cfg.sale;
  const leaseMs = Math.max(1, Math.round(cfg.stuck.intervalMs));
  const horizon = new HandledHorizon();

  const republish = async (batch: Stuck[]) => {
    const records = batch.map((s) => {
      const f = s.fields;
      const order: OrderMessage = {
        v: 1,
        order_id: s.orderId,
        sale,
        item_id: s.itemId,
        user_id: f.user_id ?? '',
        quantity: Number(f.quantity),
        request_id: f.request_id ?? '',
        correlation_id: f.correlation_id ?? '',
        created_at: new Date(Number(f.created_at) || now()).toISOString(),
      };
      return {
        key: s.itemId,
        value: encodeOrder(order),
        headers: { ...orderMessageHeaders(order), republished: String(s.republished + 1) },
      };
    });
    // sent first, marked after: a crash in between re-sends once more (harmless), never skips the re-send; the mark
    // (the re-send count and time) is written only while the order is still QUEUED
    await d.producer.send(records, topics(sale).orders);
    metrics.ordersStuck.inc({ action: 'republished' }, batch.length);
    for (const s of batch) {
      await callScript(redis, 'order_stuck', [s.key], ['republished', now(), '', s.orderId, s.itemId, '']);
    }
    log.warn(
      { event: 'stuck_orders_republished', orders: batch.map((s) => s.orderId).slice(0, 20), count: batch.length },
      'Accepted orders still QUEUED: sent again',
    );
  };

  const finalize = async (batch: Stuck[]) => {
    const ch = channels(sale).status;
    const done: string[] = [];
    for (const s of batch) {
      const n = await callScript(
        redis,
        'order_stuck',
        [s.key],
        ['finalize', now(), NOT_PROCESSED, s.orderId, s.itemId, ch],
      );
      if (Number(n) === 1) {
        metrics.ordersStuck.inc({ action: 'finalized' });
        done.push(s.orderId);
      }
    }
    if (done.length > 0) {
      log.error(
        { event: 'stuck_orders_finalized', orders: done.slice(0, 20), count: done.length, reason: NOT_PROCESSED },
        'Accepted orders never processed: finalized REJECTED',
      );
    }
  };

  /** `leased` false: scan whoever holds the lease (the handle's refresh) */
  return async (leased = true) => {
    // every processor reads the offsets each round, leased or not: whichever wins the lease next has the history
    const at = now();
    const handled = horizon.observe(at, await d.offsets());
    if (leased) {
      const got = await redis.set(saleKeys(sale).stuckSweepLease, d.token, 'PX', leaseMs, 'NX');
      if (got !== 'OK') return;
    }
    if (handled === Number.NEGATIVE_INFINITY) return;
    const stuck = await findStuck(redis, sale, handled - cfg.stuck.afterMs);
    if (stuck.length === 0) return;
    const toSend = stuck.filter((s) => s.republished < cfg.stuck.republishAttempts);
    const toEnd = stuck.filter((s) => s.republished >= cfg.stuck.republishAttempts);
    for (let i = 0; i < toSend.length; i += 500) await republish(toSend.slice(i, i + 500));
    // found past the horizon, so their last copy was handled too: none can still be on its way
    if (toEnd.length > 0) await finalize(toEnd);
  };
}
