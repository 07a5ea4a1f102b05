/**
 * A hanging payment no longer holds its partition (processor/src/settled-offsets.ts), on real Redis and Kafka: an
 * order whose payment hangs until PAYMENT_TIMEOUT stays RESERVED while the orders sent after it on the same partition
 * are reserved, paid and confirmed; the group's committed offset stays below the hanging order until its payment
 * times out, then moves past everything. The simulated provider decides each order's fate from (seed, order id), so
 * the test picks order ids whose fate it knows.
 */
import {
  groupLag,
  itemKeys,
  type OrderMessage,
  processorGroupId,
  type RedisClient,
  seedItem,
  topics,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { loadConfig } from '../src/config.ts';
import { draws } from '../src/payment.ts';
import { type ProcessorHandle, startProcessor } from '../src/processor.ts';
import { checkConservation, kafkaClient, makeOrders, newRedis, processorEnv, produce, uniqueSale } from './support.ts';

const SEED = 'settle-behind';
const FAILURE_RATE = 0.5;

let r: RedisClient;
let p: ProcessorHandle | undefined;
const admin = kafkaClient('settle-behind').admin();
beforeAll(async () => {
  r = newRedis();
  await admin.connect();
});
afterAll(async () => {
  await p?.stop();
  await admin.disconnect();
  r.disconnect();
});

/** Orders of `item` whose payment hangs (`hangs`) or succeeds, from the provider's draws. */
function ordersThat(sale: string, item: string, hangs: boolean, count: number, prefix: string): OrderMessage[] {
  const out: OrderMessage[] = [];
  for (const o of makeOrders(sale, [item], 10_000, prefix)) {
    const [fail] = draws(SEED, o.order_id);
    if (fail < FAILURE_RATE === hangs) out.push(o);
    if (out.length === count) return out;
  }
  throw new Error('not enough order ids with that fate');
}

const statusOf = (sale: string, o: OrderMessage) => r.hget(itemKeys(sale, o.item_id).order(o.order_id), 'status');
const committed = async (sale: string) =>
  (await groupLag(admin, processorGroupId(sale), topics(sale).orders)).reduce(
    (n, x) => n + Math.max(0, x.committed),
    0,
  );

describe('a hanging payment', () => {
  it('does not hold the orders behind it on its partition, and holds the committed offset below it until it ends', async () => {
    const sale = uniqueSale('behind');
    await seedItem(r, sale, 'i1', 100);
    p = await startProcessor(
      loadConfig(
        processorEnv(sale, {
          TOPIC_PARTITIONS: '1',
          PAYMENT_SEED: SEED,
          PAYMENT_FAILURE_RATE: String(FAILURE_RATE),
          PAYMENT_TIMEOUT_SHARE: '1',
          PAYMENT_TIMEOUT: '6s',
          HOLD_TTL: '60s',
        }),
      ),
      { defaultMetrics: false },
    );
    const [hanging] = ordersThat(sale, 'i1', true, 1, 'h');
    await produce(sale, [hanging!]);
    await eventually('the hanging order reserved', async () => (await statusOf(sale, hanging!)) === 'RESERVED');
    const sentAt = Date.now();

    const behind = ordersThat(sale, 'i1', false, 20, 'b');
    await produce(sale, behind);
    await eventually('the orders behind it confirmed', async () => {
      const s = await Promise.all(behind.map((o) => statusOf(sale, o)));
      return s.every((x) => x === 'CONFIRMED');
    });
    // all of that inside the payment timeout: the hanging payment is still open, so nothing is committed past it
    expect(await statusOf(sale, hanging!)).toBe('RESERVED');
    expect(Date.now() - sentAt).toBeLessThan(6000);
    expect(await committed(sale)).toBe(0);

    await eventually(
      'the hanging payment timed out',
      async () => (await statusOf(sale, hanging!)) === 'PAYMENT_FAILED',
    );
    await eventually('every offset committed', async () => (await committed(sale)) === 21);
    const [audit] = await checkConservation(r, sale);
    expect(audit).toMatchObject({ initial: 100, confirmed: 20, held: 0, remaining: 80 });
  });
});
