/**
 * Redis round trips per order (issue 17, deliverable 2), counted by a Redis this file owns (INFO commandstats): a
 * batch's reserves go out as one script call per item (at most RESERVE_CHUNK orders), and the holds that settle at the
 * same moment as one call per item, so a backlog costs far less than one script call per order (it cost two: a reserve
 * and a confirm or release each), with per-item order (first come, first served) and the books intact.
 */
import { createRedis, ensureTopics, parseAddrList, type RedisClient, seedItem } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThrowawayRedis } from '../../e2e/support/throwaway-redis.ts';
import { loadConfig } from '../src/config.ts';
import { startProcessor } from '../src/processor.ts';
import {
  checkConservation,
  kafkaClient,
  makeOrders,
  processorEnv,
  produce,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

const own = new ThrowawayRedis();
let r: RedisClient;
beforeAll(async () => {
  await own.start();
  r = createRedis({ mode: 'single', nodes: parseAddrList(own.addr) });
});
afterAll(async () => {
  r?.disconnect();
  await own.destroy();
});

/** EVAL + EVALSHA calls Redis served so far. */
async function scriptCalls(): Promise<number> {
  const info = await (r as import('ioredis').Redis).info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_(eval|evalsha):calls=(\d+)/gm)) n += Number(m[2]);
  return n;
}

describe('round trips per order', () => {
  it('a backlog of 750 orders over 3 items (450 units) costs well under one script call per order; FIFO per item kept', async () => {
    const sale = uniqueSale('rt');
    const items = ['a', 'b', 'c'];
    for (const i of items) await seedItem(r, sale, i, 150);
    const orders = makeOrders(sale, items, 750);
    // the backlog is there before the processor starts (its topics first, as the operator creates them)
    const admin = kafkaClient().admin();
    await admin.connect();
    await ensureTopics(admin, { sale, partitions: 3, replication: 1 });
    await admin.disconnect();
    await produce(sale, orders);
    const env = processorEnv(sale, {
      REDIS_ADDR: own.addr,
      PAYMENT_FAILURE_RATE: '0.1',
      PAYMENT_SEED: 'rt',
      PAYMENT_LATENCY_MIN: '0ms',
      PAYMENT_LATENCY_MAX: '1ms',
      PAYMENT_TIMEOUT: '2s',
      HOLD_TTL: '60s',
      // housekeeping off: only the orders' own calls are counted
      SWEEP_INTERVAL: '1h',
      AUDIT_INTERVAL: '1h',
      OFFSETS_INTERVAL: '1h',
      STUCK_SWEEP_INTERVAL: '1h',
      TOPIC_PARTITIONS: '3',
    });
    const before = await scriptCalls();
    const p = await startProcessor(loadConfig(env), { defaultMetrics: false });
    let final: Map<string, string>;
    try {
      final = await waitAllFinal(r, sale, orders);
    } finally {
      await p.stop();
    }
    const calls = (await scriptCalls()) - before;
    // one reserve and one settle call per order before; now per item and batch (and per moment for the settles)
    expect(calls).toBeLessThan(orders.length / 4);

    // first come, first served per item: the 150 units went to the first orders of each item (in topic order) that
    // were not refused by their payment; every later one is sold out
    for (const item of items) {
      const seq = orders.filter((o) => o.item_id === item).map((o) => final.get(o.order_id)!);
      const firstSoldOut = seq.indexOf('SOLD_OUT');
      expect(firstSoldOut).toBeGreaterThan(0);
      expect(seq.slice(0, firstSoldOut).every((s) => s === 'CONFIRMED' || s === 'PAYMENT_FAILED')).toBe(true);
    }
    const audits = await checkConservation(r, sale);
    const count = (s: string) => [...final.values()].filter((v) => v === s).length;
    expect(audits.reduce((n, a) => n + a.confirmed, 0)).toBe(count('CONFIRMED'));
    expect(audits.reduce((n, a) => n + a.released, 0)).toBe(count('PAYMENT_FAILED'));
    expect(audits.every((a) => a.held === 0)).toBe(true);
  });
});
