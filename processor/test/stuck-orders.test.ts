/**
 * Accepted orders whose Kafka message never reached a processor (processor/src/stuck-orders.ts), on real Redis and
 * Kafka: orders admitted as the gateway admits them (lua/order_admit.lua, then the stored 202 of storeOrderAnswers)
 * whose message is never produced. The processor's housekeeping sends them again and they are processed to a final
 * status; with no re-send allowed they are finalized REJECTED (reason not_processed) once the group has handled
 * everything written. An order admitted and sent normally, one still inside STUCK_ORDER_AFTER, and orders waiting in a
 * backlog behind a hanging payment (their messages are in the topic, not lost) are left alone.
 */
import {
  channels,
  itemKeys,
  PROCESSOR_METRICS as M,
  type RedisClient,
  seedItem,
  storeOrderAnswers,
} from '@flashsale/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectStable } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import {
  admitAsGateway,
  checkConservation,
  metricValue,
  newRedis,
  processorEnv,
  produce,
  uniqueSale,
} from './support.ts';

let r: RedisClient;
const running: ProcessorHandle[] = [];
beforeAll(() => {
  r = newRedis();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(() => r.disconnect());

/** An order admitted by the gateway's script at `at` (ms) and answered 202; returns its id. */
async function admitted(sale: string, item: string, user: string, at: number): Promise<string> {
  const { orderId: id, reply } = await admitAsGateway(r, { sale, item, user, at });
  expect(reply?.outcome).toBe('new');
  const body = JSON.stringify({ order_id: id, status: 'QUEUED', correlation_id: `corr-${user}` });
  await storeOrderAnswers(r, { sale, itemId: item, ttlMs: 60_000, answers: [{ orderId: id, quantity: 1, body }] });
  return id;
}

/** The message the gateway sends for an order admitted by `admitted`. */
const messageOf = (sale: string, item: string, user: string, id: string) => ({
  v: 1 as const,
  order_id: id,
  sale,
  item_id: item,
  user_id: user,
  quantity: 1,
  request_id: `key-${user}`,
  correlation_id: `corr-${user}`,
  created_at: new Date().toISOString(),
});

const status = (sale: string, item: string, id: string) => r.hmget(itemKeys(sale, item).order(id), 'status', 'reason');

async function start(sale: string, extra: Record<string, string>) {
  const p = await startProcessor(
    loadConfig(
      processorEnv(sale, {
        TOPIC_PARTITIONS: '2',
        PAYMENT_FAILURE_RATE: '0',
        STUCK_ORDER_AFTER: '2s',
        STUCK_SWEEP_INTERVAL: '300ms',
        ...extra,
      }),
    ),
    { defaultMetrics: false },
  );
  running.push(p);
  return p;
}

describe('accepted orders stuck in QUEUED', () => {
  it('are sent again and processed to a final status; normal and recent orders are left alone', async () => {
    const sale = uniqueSale('stuck');
    await seedItem(r, sale, 'i1', 10);
    // three 202s whose messages were lost a minute ago, one sent normally now, one lost a moment ago
    const lost = await Promise.all(['a', 'b', 'c'].map((u) => admitted(sale, 'i1', `u-${u}`, Date.now() - 60_000)));
    const p = await start(sale, { STUCK_ORDER_AFTER: '20s' });
    const normal = await admitted(sale, 'i1', 'u-n', Date.now());
    await produce(sale, [messageOf(sale, 'i1', 'u-n', normal)]);
    const recent = await admitted(sale, 'i1', 'u-r', Date.now());

    for (const id of [...lost, normal]) {
      await eventually(`${id} confirmed`, async () => (await status(sale, 'i1', id))[0] === 'CONFIRMED');
    }
    await eventually('three re-sends counted', async () => {
      return (await metricValue(p.metrics.registry, M.ordersStuck, { action: 'republished' })) === 3;
    });
    // each lost order was sent again once (a re-sent order leaves QUEUED or waits STUCK_ORDER_AFTER again), the
    // normal one never; nothing finalized
    await expectStable(
      async () => (await metricValue(p.metrics.registry, M.ordersStuck, { action: 'republished' })) === 3,
      1500,
    );
    expect(await r.hget(itemKeys(sale, 'i1').order(normal), 'republished')).toBeNull();
    expect(await metricValue(p.metrics.registry, M.ordersStuck, { action: 'finalized' })).toBe(0);
    // the one lost a moment ago is inside STUCK_ORDER_AFTER (20 s): still QUEUED, not sent again
    expect(await status(sale, 'i1', recent)).toEqual(['QUEUED', null]);
    await checkConservation(r, sale);
  });

  it('are finalized REJECTED, reason not_processed, when no re-send is allowed, with a status event', async () => {
    const sale = uniqueSale('stuckfin');
    await seedItem(r, sale, 'i1', 10);
    const lost = await admitted(sale, 'i1', 'u-f', Date.now() - 60_000);
    const sub = newRedis();
    const events: string[] = [];
    sub.on('message', (_ch: string, m: string) => events.push(m));
    await sub.subscribe(channels(sale).status);
    try {
      const p = await start(sale, { STUCK_REPUBLISH_ATTEMPTS: '0' });
      await eventually('finalized', async () => (await status(sale, 'i1', lost))[0] === 'REJECTED');
      expect(await status(sale, 'i1', lost)).toEqual(['REJECTED', 'not_processed']);
      expect(await metricValue(p.metrics.registry, M.ordersStuck, { action: 'finalized' })).toBe(1);
      expect(await metricValue(p.metrics.registry, M.ordersStuck, { action: 'republished' })).toBe(0);
      await eventually('the status event', () => events.some((e) => e.includes(lost) && e.includes('REJECTED')));
      // it held no stock: the books are unchanged
      const [audit] = await checkConservation(r, sale);
      expect(audit).toMatchObject({ initial: 10, remaining: 10, confirmed: 0, held: 0 });
    } finally {
      sub.disconnect();
    }
  });

  it('are not orders waiting in a backlog: QUEUED past STUCK_ORDER_AFTER behind a hanging payment, never sent twice', async () => {
    const sale = uniqueSale('stuckbacklog');
    await seedItem(r, sale, 'i1', 10);
    const p = await start(sale, {
      TOPIC_PARTITIONS: '1',
      STUCK_ORDER_AFTER: '1s',
      STUCK_SWEEP_INTERVAL: '200ms',
      PAYMENT_LATENCY_MIN: '6s',
      PAYMENT_LATENCY_MAX: '6s',
      PAYMENT_TIMEOUT: '20s',
    });
    // the first order's payment hangs 6 s: its batch holds the partition, the next orders wait behind it in the topic
    const first = await admitted(sale, 'i1', 'u-h', Date.now());
    await produce(sale, [messageOf(sale, 'i1', 'u-h', first)]);
    await eventually('the first order reserved', async () => (await status(sale, 'i1', first))[0] !== 'QUEUED');
    // admitted and sent now: they wait behind it well past STUCK_ORDER_AFTER (1 s), their messages in the backlog
    const waiting = await Promise.all(['a', 'b'].map((u) => admitted(sale, 'i1', `u-${u}`, Date.now())));
    await produce(
      sale,
      waiting.map((id, n) => messageOf(sale, 'i1', `u-${'ab'[n]}`, id)),
    );
    const republished = () => metricValue(p.metrics.registry, M.ordersStuck, { action: 'republished' });
    await expectStable(async () => {
      const statuses = await Promise.all(waiting.map(async (id) => (await status(sale, 'i1', id))[0]));
      return statuses.every((s) => s === 'QUEUED') && (await republished()) === 0;
    }, 4000);
    for (const id of [first, ...waiting]) {
      await eventually(`${id} confirmed`, async () => (await status(sale, 'i1', id))[0] === 'CONFIRMED', 30_000);
    }
    // a few more sweeps with the backlog gone: nothing was or is sent again, nothing finalized
    await expectStable(async () => (await republished()) === 0, 1000);
    expect(await metricValue(p.metrics.registry, M.ordersStuck, { action: 'finalized' })).toBe(0);
    for (const id of waiting) expect(await r.hget(itemKeys(sale, 'i1').order(id), 'republished')).toBeNull();
    await checkConservation(r, sale);
  }, 60_000);
});
