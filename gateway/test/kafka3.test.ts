/** The producer against three brokers (RF 3, min ISR 2): one produce request per partition leader, none lost. */
import type { RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildGateway, type Gateway } from '../src/app.ts';
import {
  createOrdersTopic,
  jsonHeaders,
  producedCount,
  readAllOrders,
  redisFor,
  seed,
  services,
  testConfig,
  uniqueSale,
} from './helpers.ts';

const sale = uniqueSale('gk3');
let gw: Gateway;
let redis: RedisClient;
let brokers: string[];

beforeAll(async () => {
  brokers = inject('services').kafka3?.brokers ?? [];
  if (brokers.length !== 3) throw new Error('the harness did not provide the three-broker Kafka (services.kafka3)');
  redis = redisFor(services().redisAddr);
  await createOrdersTopic(brokers, sale, 6, 3);
  await seed(redis, sale, { a: 1_000_000, b: 1_000_000, c: 1_000_000 });
  gw = await buildGateway(testConfig(sale, { KAFKA_ADDR: brokers.join(','), RATE_LIMIT_ENABLED: 'false' }));
  await gw.init();
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

describe('producer on three brokers', () => {
  it('accepts concurrent orders spread over all leaders and every 202 is in the topic exactly once', async () => {
    const items = ['a', 'b', 'c'];
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        gw.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: jsonHeaders(`k-${i}`),
          payload: { user_id: `u-${i}`, item_id: items[i % 3], quantity: 1 },
        }),
      ),
    );
    expect(answers.map((a) => a.statusCode).filter((c) => c !== 202)).toEqual([]);
    const ids = answers.map((a) => a.json().order_id as string);
    expect(await producedCount(brokers, sale)).toBe(300);
    const msgs = await readAllOrders(brokers, sale, 300);
    expect(new Set(msgs.map((m) => m.value.order_id)).size).toBe(300);
    expect(msgs.map((m) => m.value.order_id).sort()).toEqual([...ids].sort());
  });
});
