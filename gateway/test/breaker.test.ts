/**
 * The circuit breaker against a broker that really goes away: a throwaway single-node Kafka this file starts,
 * kills and starts again. Opens after 5 consecutive failures, answers 503 with Retry-After and frees the
 * idempotency key while open, closes after 2 successes once the broker is back. Then the broker hangs (SIGSTOP): an
 * order queued behind its partition's hung produce requests fails unsent once its send timeout has passed.
 */
import { itemKeys, newOrderId, type OrderMessage, type RedisClient, topics } from '@flashsale/common';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../src/app.ts';
import { OrderProducer, QueueTimeoutError } from '../src/kafka/producer.ts';
import { createOrdersTopic, jsonHeaders, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';
import { ThrowawayKafka } from './support/throwaway-kafka.ts';

const sale = uniqueSale('brk');
const kafka = new ThrowawayKafka();
let gw: Gateway;
let redis: RedisClient;

beforeAll(async () => {
  redis = redisFor(services().redisAddr);
  await seed(redis, sale, { gpu: 100_000 });
  await kafka.start();
  await createOrdersTopic(kafka.brokers, sale, 1);
  gw = await buildGateway(
    testConfig(sale, {
      KAFKA_ADDR: kafka.brokers.join(','),
      KAFKA_SEND_TIMEOUT: '2s',
      CIRCUIT_BREAKER_BASE_TIMEOUT: '2s',
      CIRCUIT_BREAKER_MAX_TIMEOUT: '8s',
      RATE_LIMIT_ENABLED: 'false',
      HEALTH_CHECK_TIMEOUT: '500ms',
    }),
  );
  await gw.init();
}, 120_000);

afterAll(async () => {
  await gw?.close();
  await kafka.destroy();
  await redis?.quit();
});

const post = (i: number) =>
  gw.app.inject({
    method: 'POST',
    url: '/v1/orders',
    headers: jsonHeaders(`k-${i}`),
    payload: { user_id: 'u-b', item_id: 'gpu', quantity: 1 },
  });

describe('circuit breaker with a broker that goes away', () => {
  it('opens after 5 failures, answers 503 + Retry-After and frees the key, closes after the broker returns', async () => {
    expect((await post(0)).statusCode).toBe(202);
    await kafka.stop();

    // five consecutive failed produces (each one 503, key freed), then the breaker is open
    const states: string[] = [];
    gw.ctx.producer.breaker.on('state', (s) => states.push(s));
    let i = 1;
    for (; i <= 5; i++) {
      const r = await post(i);
      expect(r.statusCode).toBe(503);
      expect(r.json().code).toBe('BROKER_UNAVAILABLE');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // the key is free: no order record (the claim) and no stored answer
      const orderId = newOrderId(sale, 'gpu', 'u-b', `k-${i}`);
      expect(await redis.exists(itemKeys(sale, 'gpu').order(orderId), itemKeys(sale, 'gpu').answer(orderId))).toBe(0);
    }
    expect(gw.ctx.producer.breakerState).toBe('open');
    expect(states).toEqual(['open']);
    const open = await post(i++);
    expect(open.statusCode).toBe(503);
    const retryAfter = Number(open.headers['retry-after']);
    expect(retryAfter >= 1 && retryAfter <= 2).toBe(true); // what is left of the 2 s open period
    // the order accepted before the broker went away is still replayed while the breaker is open
    const replay = await post(0);
    expect(replay.statusCode).toBe(202);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const health = await gw.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ kafka: false, circuit_breaker_state: 'open' });
    expect((await gw.app.inject({ method: 'GET', url: '/metrics' })).body).toMatch(/gateway_circuit_breaker_state 1/);

    await kafka.start();
    // retry (as a client would, after Retry-After) until accepted; then one more success closes the breaker
    const until = Date.now() + 30_000;
    let accepted = 0;
    while (Date.now() < until && gw.ctx.producer.breakerState !== 'closed') {
      const r = await post(i++);
      if (r.statusCode === 202) accepted++;
      else await new Promise((res) => setTimeout(res, 250));
    }
    expect(gw.ctx.producer.breakerState).toBe('closed');
    expect(accepted).toBe(2);
    expect(states).toContain('half-open');
    expect(states.at(-1)).toBe('closed');
    // a key refused while open can be used again now
    expect((await post(1)).statusCode).toBe(202);
  }, 60_000);
});

describe('a hung partition leader', () => {
  it('fails the orders queued behind it unsent once they waited their send timeout, not one request after another', async () => {
    // one order per produce request: the orders queue behind each other on the topic's one partition
    const producer = new OrderProducer(
      {
        brokers: kafka.brokers,
        clientId: 'gw-queue-deadline',
        topic: topics(sale).orders,
        sendTimeoutMs: 2000,
        batchMax: 1,
        lingerMs: 0,
        breaker: { failureThreshold: 100, successThreshold: 1, baseTimeoutMs: 1000, maxTimeoutMs: 1000 },
      },
      pino({ level: 'silent' }),
    );
    const order = (i: number): OrderMessage => ({
      v: 1,
      order_id: newOrderId(sale, 'gpu', `u-q${i}`, `q-${i}`),
      sale,
      item_id: 'gpu',
      user_id: `u-q${i}`,
      quantity: 1,
      request_id: `q-${i}`,
      correlation_id: `c-${i}`,
      created_at: new Date().toISOString(),
    });
    try {
      await producer.start();
      await producer.send(order(0));
      kafka.freeze();
      const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => producer.send(order(i))));
      const errors = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error) : undefined));
      expect(errors.every((e) => e !== undefined)).toBe(true);
      // the first is sent (and times out); whatever follows it by one request per timeout finds its own deadline gone
      expect(errors[0]).not.toBeInstanceOf(QueueTimeoutError);
      expect(errors.slice(2).every((e) => e instanceof QueueTimeoutError)).toBe(true);
      expect(errors[4]?.message).toMatch(/waited \d+ ms for its partition's earlier produce requests and was not sent/);
    } finally {
      kafka.thaw();
      await producer.close(5000);
    }
  }, 60_000);
});
