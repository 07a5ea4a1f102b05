/** The order API over real Redis and Kafka: every status code, replay, idempotency, rate limits, sold-out fast path. */
import { randomUUID } from 'node:crypto';
import {
  GATEWAY_METRICS,
  itemKeys,
  newOrderId,
  type RedisClient,
  rateLimitKey,
  release,
  reserve,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { buildGateway, type Gateway } from '../src/app.ts';
import { Admission } from '../src/orders/admission.ts';
import {
  createOrdersTopic,
  jsonHeaders,
  producedCount,
  REDIS_BACKENDS,
  type RedisBackend,
  readAllOrders,
  seed,
  services,
  testConfig,
  uniqueSale,
} from './helpers.ts';

let sale = '';
let gw: Gateway;
let redis: RedisClient;

const order = (body: unknown, key?: string, extra: Record<string, string> = {}) =>
  gw.app.inject({
    method: 'POST',
    url: '/v1/orders',
    headers: jsonHeaders(key, extra),
    payload: JSON.stringify(body),
  });

/** A sale of its own on the backend, and a gateway selecting that backend from its configuration. */
async function open(b: RedisBackend) {
  sale = uniqueSale(`gw${b.name[0]}`);
  redis = b.client();
  await createOrdersTopic(services().brokers, sale);
  await seed(redis, sale, { apple: 1000, pear: 2, plum: 1000, lim: 1000 });
  await redis.hset(`fs:{${sale}:lim}:meta`, 'per_user_limit', '2');
  gw = await buildGateway(testConfig(sale, b.env()));
  await gw.init();
  await eventually('the stock cache', () => gw.ctx.sale.items.size === 4, 5000, 25);
}

async function close() {
  await gw?.close();
  await redis?.quit();
}

// The order path runs on both the single Redis and the Redis Cluster (the same tests, a connection factory each).
describe.each(REDIS_BACKENDS)('on $name Redis', (b) => {
  beforeAll(() => open(b));
  afterAll(close);

  describe('POST /v1/orders', () => {
    it('answers 202 only after Kafka acknowledged, with the order in Redis and the headers on the message', async () => {
      const before = await producedCount(services().brokers, sale);
      const res = await order({ user_id: 'u-1', item_id: 'apple', quantity: 2 }, 'k-202', {
        'x-correlation-id': 'corr-202',
      });
      expect(res.statusCode).toBe(202);
      expect(res.headers['x-correlation-id']).toBe('corr-202');
      expect(res.headers['ratelimit-limit']).toBe('60');
      const body = res.json();
      expect(body).toMatchObject({ status: 'QUEUED', correlation_id: 'corr-202' });
      expect(body.order_id).toMatch(/^apple\./);
      expect(await producedCount(services().brokers, sale)).toBe(before + 1);

      const got = await gw.app.inject({ method: 'GET', url: `/v1/orders/${body.order_id}` });
      expect(got.statusCode).toBe(200);
      expect(got.json()).toMatchObject({ order_id: body.order_id, status: 'QUEUED', item_id: 'apple', quantity: 2 });

      const msgs = await readAllOrders(services().brokers, sale, before + 1);
      const m = msgs.find((x) => x.value.order_id === body.order_id);
      expect(m?.key).toBe('apple');
      expect(m?.value).toMatchObject({ v: 1, sale, user_id: 'u-1', quantity: 2, request_id: 'k-202' });
      expect(m?.headers).toMatchObject({ correlation_id: 'corr-202', request_id: 'k-202' });
    });

    it('replays a completed request with the original status and body and Idempotent-Replayed: true', async () => {
      const first = await order({ user_id: 'u-r', item_id: 'apple', quantity: 1 }, 'k-replay');
      expect(first.statusCode).toBe(202);
      const produced = await producedCount(services().brokers, sale);
      const again = await order({ user_id: 'u-r', item_id: 'apple', quantity: 1 }, 'k-replay');
      expect(again.statusCode).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toBe(first.body);
      // the legacy route with the same request id is the same request
      const buy = await gw.app.inject({
        method: 'POST',
        url: '/buy',
        headers: jsonHeaders(),
        payload: { user_id: 'u-r', item_id: 'apple', amount: 1, request_id: 'k-replay' },
      });
      expect(buy.statusCode).toBe(202);
      expect(buy.headers['idempotent-replayed']).toBe('true');
      expect(await producedCount(services().brokers, sale)).toBe(produced);
      const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(
        new RegExp(`${GATEWAY_METRICS.ordersIdempotencyRejected}\\{outcome="replayed"\\} 2`),
      );
    });

    it('stores the answers of orders acknowledged together, per item, before any retry that follows the 202s', async () => {
      const bodies = Array.from({ length: 12 }, (_, i) => ({
        user_id: `u-batch-${i}`,
        item_id: i % 3 === 0 ? 'plum' : 'apple',
        quantity: 1,
      }));
      const first = await Promise.all(bodies.map((b, i) => order(b, `k-batch-${i}`)));
      expect(first.map((r) => r.statusCode)).toEqual(bodies.map(() => 202));
      // retried at once: each answer was written ahead of the retry's admission on the item's connection
      const again = await Promise.all(bodies.map((b, i) => order(b, `k-batch-${i}`)));
      for (const [i, r] of again.entries()) {
        expect(r.statusCode).toBe(202);
        expect(r.headers['idempotent-replayed']).toBe('true');
        expect(r.body).toBe(first[i]?.body);
      }
      for (const [i, r] of first.entries()) {
        const { order_id } = JSON.parse(r.body) as { order_id: string };
        const key = itemKeys(sale, bodies[i]?.item_id as string).answer(order_id);
        expect(await redis.get(key)).toBe(`1 ${r.body}`);
        expect(await redis.pttl(key)).toBeGreaterThan(0);
      }
    });

    it('admits the orders of one turn in one call, each in arrival order as if alone', async () => {
      const admission = new Admission(redis, {
        sale,
        userPolicy: { capacity: 2, refillPerSecond: 0.001 },
        pendingTtlMs: 60_000,
      });
      const now = Date.now();
      const asked = [
        { userId: 'u-turn1', itemId: 'apple', quantity: 1, key: 'k-turn-a' },
        { userId: 'u-turn1', itemId: 'apple', quantity: 1, key: 'k-turn-a' }, // the same key: claimed just before
        { userId: 'u-turn1', itemId: 'apple', quantity: 1, key: 'k-turn-b' }, // the bucket of 2 is empty now
        { userId: 'u-turn2', itemId: 'apple', quantity: 1, key: 'k-turn-c' },
        { userId: 'u-turn1', itemId: 'plum', quantity: 1, key: 'k-turn-d' }, // another item: its own bucket and call
      ];
      // admitted in the same turn, so the four apple orders share one script call
      const got = await Promise.all(
        asked.map((o, i) =>
          admission.admit(o, {
            orderId: admission.orderId(o),
            correlationId: `corr-turn-${i}`,
            now,
            perUserLimit: 0,
            brokerOpen: false,
          }),
        ),
      );
      expect(got.map((a) => a.kind)).toEqual(['new', 'inflight', 'limited', 'new', 'new']);
      expect(got.map((a) => a.bucket?.remaining)).toEqual([1, 0, 0, 1, 1]);
      const record = (o: (typeof asked)[number]) =>
        redis.hmget(itemKeys(sale, o.itemId).order(admission.orderId(o)), 'status', 'correlation_id');
      expect(await record(asked[0] as (typeof asked)[number])).toEqual(['QUEUED', 'corr-turn-0']);
      expect(await record(asked[2] as (typeof asked)[number])).toEqual([null, null]);
      expect(await record(asked[4] as (typeof asked)[number])).toEqual(['QUEUED', 'corr-turn-4']);
    });

    it('answers 409 DUPLICATE_IN_FLIGHT while the first request with the key is still pending', async () => {
      // another gateway's claim that has no answer yet: the QUEUED record its admission created a moment ago
      const admission = new Admission(redis, { sale, userPolicy: null, pendingTtlMs: 60_000 });
      const o = { userId: 'u-f', itemId: 'apple', quantity: 1, key: 'k-flight' };
      const claim = { orderId: admission.orderId(o), correlationId: 'other', now: Date.now(), perUserLimit: 0 };
      expect((await admission.admit(o, { ...claim, brokerOpen: false })).kind).toBe('new');
      const res = await order({ user_id: 'u-f', item_id: 'apple', quantity: 1 }, 'k-flight');
      expect(res.statusCode).toBe(409);
      expect(res.json()).toMatchObject({ code: 'DUPLICATE_IN_FLIGHT' });
      expect(res.json().correlation_id).toBeTruthy();
    });

    it('takes over a stale claim (its gateway died mid-send) and sends again; answers a record past QUEUED', async () => {
      const admission = new Admission(redis, { sale, userPolicy: null, pendingTtlMs: 60_000 });
      const o = { userId: 'u-st', itemId: 'apple', quantity: 1, key: 'k-stale' };
      const orderId = admission.orderId(o);
      // a claim written 31 s ago (IDEMPOTENCY_PENDING_TTL is 30 s) that never got an answer
      const stale = { orderId, correlationId: 'dead', now: Date.now() - 31_000, perUserLimit: 0, brokerOpen: false };
      expect((await admission.admit(o, stale)).kind).toBe('new');
      const before = await producedCount(services().brokers, sale);
      const res = await order({ user_id: 'u-st', item_id: 'apple', quantity: 1 }, 'k-stale', {
        'x-correlation-id': 'corr-takeover',
      });
      expect(res.statusCode).toBe(202);
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      expect(res.json()).toMatchObject({ order_id: orderId, status: 'QUEUED' });
      expect(await producedCount(services().brokers, sale)).toBe(before + 1);
      expect(await redis.hget(itemKeys(sale, 'apple').order(orderId), 'correlation_id')).toBe('corr-takeover');

      // a record the processor moved on without a stored answer (the first answer was a 503, the message landed late)
      const late = { userId: 'u-st', itemId: 'apple', quantity: 1, key: 'k-late' };
      const lateId = admission.orderId(late);
      await redis.hset(itemKeys(sale, 'apple').order(lateId), { status: 'CONFIRMED', quantity: '1', user_id: 'u-st' });
      const answered = await order({ user_id: 'u-st', item_id: 'apple', quantity: 1 }, 'k-late');
      expect(answered.statusCode).toBe(202);
      expect(answered.json()).toMatchObject({ order_id: lateId, status: 'CONFIRMED' });
      expect(await producedCount(services().brokers, sale)).toBe(before + 1);
      // and from then on it is replayed as answered
      await eventually(
        'the stored answer',
        async () => (await redis.exists(itemKeys(sale, 'apple').answer(lateId))) === 1,
        5000,
        25,
      );
      const again = await order({ user_id: 'u-st', item_id: 'apple', quantity: 1 }, 'k-late');
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toBe(answered.body);
    });

    it('answers 422 IDEMPOTENCY_KEY_REUSED for the same key with a different body', async () => {
      expect((await order({ user_id: 'u-2', item_id: 'apple', quantity: 1 }, 'k-reuse')).statusCode).toBe(202);
      const res = await order({ user_id: 'u-2', item_id: 'apple', quantity: 3 }, 'k-reuse');
      expect(res.statusCode).toBe(422);
      expect(res.json().code).toBe('IDEMPOTENCY_KEY_REUSED');
      // keys are per user: another user may use the same key
      expect((await order({ user_id: 'u-3', item_id: 'apple', quantity: 3 }, 'k-reuse')).statusCode).toBe(202);
    });

    it('answers 400 with per-field errors for invalid bodies, unknown fields and wrong types', async () => {
      const bad = await order({ user_id: '', item_id: 'a b', quantity: 0 }, 'k-400');
      expect(bad.statusCode).toBe(400);
      const body = bad.json();
      expect(body.code).toBe('VALIDATION_FAILED');
      expect([...new Set(body.errors.map((e: { path: string }) => e.path))].sort()).toEqual([
        'body.item_id',
        'body.quantity',
        'body.user_id',
      ]);
      const unknown = await order({ user_id: 'u', item_id: 'apple', quantity: 1, price: 0 }, 'k-400');
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().errors[0].message).toMatch(/price/);
      const types = await order({ user_id: 5, item_id: 'apple', quantity: '1' }, 'k-400');
      expect(types.statusCode).toBe(400);
      const noKey = await order({ user_id: 'u', item_id: 'apple', quantity: 1 });
      expect(noKey.statusCode).toBe(400);
      expect(noKey.json().errors[0].path).toBe('header.Idempotency-Key');
      const notJson = await gw.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: jsonHeaders('k'),
        payload: '{"user_id":',
      });
      expect(notJson.statusCode).toBe(400);
    });

    it('answers 413 for a body over the limit and 415 for another content type', async () => {
      const big = await order({ user_id: 'u', item_id: 'apple', quantity: 1, pad: 'x'.repeat(10_000) }, 'k-413');
      expect(big.statusCode).toBe(413);
      expect(big.json().code).toBe('PAYLOAD_TOO_LARGE');
      const text = await gw.app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { 'content-type': 'text/plain', 'idempotency-key': 'k-415' },
        payload: 'user_id=u',
      });
      expect(text.statusCode).toBe(415);
      expect(text.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers 404 for an item outside the sale and for unknown orders, 400 for malformed order ids', async () => {
      const res = await order({ user_id: 'u', item_id: 'nothing', quantity: 1 }, 'k-404');
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('NOT_FOUND');
      expect((await gw.app.inject({ method: 'GET', url: '/v1/orders/apple.nope' })).statusCode).toBe(404);
      expect((await gw.app.inject({ method: 'GET', url: '/v1/orders/no-dot' })).statusCode).toBe(400);
    });

    it('answers 409 LIMIT_EXCEEDED beyond the per-user limit', async () => {
      const over = await order({ user_id: 'u-l', item_id: 'lim', quantity: 3 }, 'k-l1');
      expect(over.statusCode).toBe(409);
      expect(over.json().code).toBe('LIMIT_EXCEEDED');
      // units the user already holds count: reserve 2 through the processor's script, then 1 more is refused
      await reserve(
        redis,
        sale,
        {
          orderId: `lim.${randomUUID().replaceAll('-', '')}`,
          itemId: 'lim',
          userId: 'u-l',
          quantity: 2,
          correlationId: 'c',
          requestId: 'r',
        },
        60_000,
      );
      const more = await order({ user_id: 'u-l', item_id: 'lim', quantity: 1 }, 'k-l2');
      expect(more.statusCode).toBe(409);
      expect(more.json().code).toBe('LIMIT_EXCEEDED');
      // a replay of the order that bought the units is still its 202, not LIMIT_EXCEEDED
      const u = 'u-l2';
      const first = await order({ user_id: u, item_id: 'lim', quantity: 2 }, 'k-l3');
      expect(first.statusCode).toBe(202);
      await reserve(
        redis,
        sale,
        {
          orderId: first.json().order_id,
          itemId: 'lim',
          userId: u,
          quantity: 2,
          correlationId: 'c',
          requestId: 'k-l3',
        },
        60_000,
      );
      const replay = await order({ user_id: u, item_id: 'lim', quantity: 2 }, 'k-l3');
      expect(replay.statusCode).toBe(202);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      const another = await order({ user_id: u, item_id: 'lim', quantity: 1 }, 'k-l4');
      expect(another.json().code).toBe('LIMIT_EXCEEDED');
      // the refused key is free again (not stuck in flight)
      expect(await redis.exists(itemKeys(sale, 'lim').order(newOrderId(sale, 'lim', u, 'k-l4')))).toBe(0);
    });

    it('refuses a sold-out item locally within ~100 ms and produces nothing more to Kafka', async () => {
      const brokers = services().brokers;
      // a buyer whose order was accepted before the sell-out (the processor is not running in this file)
      const mine = await order({ user_id: 'p-mine', item_id: 'pear', quantity: 1 }, 'k-mine');
      expect(mine.statusCode).toBe(202);
      // sell the 2 pears through the processor's reserve script (it publishes the sold-out event)
      const held: string[] = [];
      for (const u of ['p1', 'p2']) {
        held.push(`pear.${randomUUID().replaceAll('-', '')}`);
        const r = await reserve(
          redis,
          sale,
          {
            orderId: held.at(-1)!,
            itemId: 'pear',
            userId: u,
            quantity: 1,
            correlationId: 'c',
            requestId: u,
          },
          60_000,
        );
        expect(r.status).toBe('RESERVED');
      }
      const t0 = Date.now();
      await eventually('the sold-out event', () => gw.ctx.sale.isSoldOut('pear'), 2000, 25);
      expect(Date.now() - t0).toBeLessThan(1000);
      const before = await producedCount(brokers, sale);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => order({ user_id: `s-${i}`, item_id: 'pear', quantity: 1 }, `k-so-${i}`)),
      );
      expect(answers.every((a) => a.statusCode === 409 && a.json().code === 'SOLD_OUT')).toBe(true);
      // the buyer's retry with the same key gets their order back, not "sold out"
      const again = await order({ user_id: 'p-mine', item_id: 'pear', quantity: 1 }, 'k-mine');
      expect(again.statusCode).toBe(202);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json().order_id).toBe(mine.json().order_id);
      expect(await producedCount(brokers, sale)).toBe(before);
      // no idempotency key was claimed on the fast path
      expect(await redis.exists(itemKeys(sale, 'pear').order(newOrderId(sale, 'pear', 's-0', 'k-so-0')))).toBe(0);
      const saleView = await gw.app.inject({ method: 'GET', url: '/v1/sale' });
      expect(saleView.json().items.find((i: { item_id: string }) => i.item_id === 'pear')).toMatchObject({
        remaining: 0,
        sold_out: true,
      });
      // a released hold returns the unit: the gateway accepts pear orders again
      await release(redis, sale, 'pear', held[0]!, 'PAYMENT_FAILED', 'payment_failed');
      await eventually('the restocked event', () => !gw.ctx.sale.isSoldOut('pear'), 2000, 25);
      expect((await order({ user_id: 's-back', item_id: 'pear', quantity: 1 }, 'k-back')).statusCode).toBe(202);
    });
  });
});

// Limits, window and health do not depend on the Redis deployment: the single Redis only.
describe('single Redis only', () => {
  beforeAll(() => open(REDIS_BACKENDS[0]!));
  afterAll(close);

  describe('rate limiting', () => {
    it('sends RateLimit-* headers and answers 429 with Retry-After when the user bucket is empty', async () => {
      const g = await buildGateway(testConfig(sale, { RATE_LIMIT_MAX_REQUESTS: '3', RATE_LIMIT_WINDOW: '1m' }));
      await g.init();
      try {
        const codes: number[] = [];
        let last: Awaited<ReturnType<typeof g.app.inject>> | undefined;
        for (let i = 0; i < 4; i++) {
          last = await g.app.inject({
            method: 'POST',
            url: '/v1/orders',
            headers: jsonHeaders(`k-rl-${i}`),
            payload: { user_id: 'u-rl', item_id: 'plum', quantity: 1 },
          });
          codes.push(last.statusCode);
          if (i < 3) expect(last.headers['ratelimit-remaining']).toBe(String(2 - i));
        }
        expect(codes).toEqual([202, 202, 202, 429]);
        expect(last?.json().code).toBe('RATE_LIMITED');
        expect(Number(last?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(last?.headers['ratelimit-limit']).toBe('3');
        expect(last?.headers['ratelimit-remaining']).toBe('0');
        expect(last?.headers['ratelimit-policy']).toMatch(/^3;w=60;policy="order-user"/);
        // another user is not affected
        const other = await g.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: jsonHeaders('k-rl-x'),
          payload: { user_id: 'u-rl-2', item_id: 'plum', quantity: 1 },
        });
        expect(other.statusCode).toBe(202);
      } finally {
        await g.close();
      }
    });

    it('limits the order routes per client IP in the process: no Redis key, refused before the body is read', async () => {
      const g = await buildGateway(testConfig(sale, { RATE_LIMIT_IP_MAX_REQUESTS: '2' }));
      await g.init();
      try {
        const post = (i: number, ip: string) =>
          g.app.inject({
            method: 'POST',
            url: '/buy',
            remoteAddress: ip,
            headers: jsonHeaders(),
            payload: { user_id: `u-ip-${i}`, item_id: 'plum', amount: 1, request_id: `k-ip-${ip}-${i}` },
          });
        expect((await post(0, '192.0.2.50')).statusCode).toBe(202);
        expect((await post(1, '192.0.2.50')).statusCode).toBe(202);
        const last = await post(2, '192.0.2.50');
        expect(last.statusCode).toBe(429);
        expect(last.json().code).toBe('RATE_LIMITED');
        expect(last.headers['ratelimit-policy']).toMatch(/^2;w=60;policy="order-ip"/);
        expect(Number(last.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect((await post(3, '192.0.2.51')).statusCode).toBe(202);
        expect(await redis.exists(rateLimitKey(sale, 'order-ip', '192.0.2.50'))).toBe(0);
      } finally {
        await g.close();
      }
    });

    it('limits per client IP and honours X-Forwarded-For only from trusted proxies', async () => {
      const g = await buildGateway(
        testConfig(sale, { RATE_LIMIT_READ_MAX_REQUESTS: '2', TRUSTED_PROXIES: '127.0.0.1/32' }),
      );
      await g.init();
      try {
        const get = (ip: string, xff?: string) =>
          g.app.inject({
            method: 'GET',
            url: '/v1/sale',
            remoteAddress: ip,
            headers: xff ? { 'x-forwarded-for': xff } : {},
          });
        // through the trusted proxy: each forwarded client has its own bucket
        expect((await get('127.0.0.1', '10.9.0.1')).statusCode).toBe(200);
        expect((await get('127.0.0.1', '10.9.0.1')).statusCode).toBe(200);
        expect((await get('127.0.0.1', '10.9.0.1')).statusCode).toBe(429);
        expect((await get('127.0.0.1', '10.9.0.2')).statusCode).toBe(200);
        // from an untrusted address the header is ignored: the caller's own IP is limited
        expect((await get('192.0.2.7', '10.9.0.3')).statusCode).toBe(200);
        expect((await get('192.0.2.7', '10.9.0.4')).statusCode).toBe(200);
        expect((await get('192.0.2.7', '10.9.0.5')).statusCode).toBe(429);
      } finally {
        await g.close();
      }
    });
  });

  describe('sale window', () => {
    it('answers 403 SALE_NOT_STARTED with Retry-After before the start and 410 SALE_ENDED after the end', async () => {
      const brokers = services().brokers;
      const before = await producedCount(brokers, sale);
      const soon = new Date(Date.now() + 3_600_000).toISOString();
      const early = await buildGateway(testConfig(sale, { SALE_STARTS_AT: soon }));
      const late = await buildGateway(
        testConfig(sale, { SALE_STARTS_AT: '2020-01-01T00:00:00Z', SALE_ENDS_AT: '2020-01-02T00:00:00Z' }),
      );
      try {
        const req = { method: 'POST' as const, url: '/v1/orders', headers: jsonHeaders('k-w') };
        const a = await early.app.inject({ ...req, payload: { user_id: 'u-w', item_id: 'apple', quantity: 1 } });
        expect(a.statusCode).toBe(403);
        expect(a.json().code).toBe('SALE_NOT_STARTED');
        expect(Number(a.headers['retry-after'])).toBeGreaterThan(3500);
        const b = await late.app.inject({ ...req, payload: { user_id: 'u-w', item_id: 'apple', quantity: 1 } });
        expect(b.statusCode).toBe(410);
        expect(b.json().code).toBe('SALE_ENDED');
        expect((await early.app.inject({ method: 'GET', url: '/v1/sale' })).json().state).toBe('scheduled');
        expect(await producedCount(brokers, sale)).toBe(before);
      } finally {
        await early.close();
        await late.close();
      }
    });
  });

  describe('health, metrics, OpenAPI', () => {
    it('reports the runbook health JSON, readiness and liveness', async () => {
      const h = await gw.app.inject({ method: 'GET', url: '/health' });
      expect(h.statusCode).toBe(200);
      expect(h.json()).toEqual({ status: 'healthy', redis: true, kafka: true, circuit_breaker_state: 'closed' });
      expect((await gw.app.inject({ method: 'GET', url: '/ready' })).json()).toEqual({
        status: 'ready',
        redis: true,
        kafka: true,
      });
      expect((await gw.app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    });

    it('is unhealthy and not ready (but alive) when Redis and Kafka are unreachable', async () => {
      const g = await buildGateway(
        testConfig(uniqueSale(), {
          REDIS_ADDR: '127.0.0.1:1',
          KAFKA_ADDR: '127.0.0.1:1',
          HEALTH_CHECK_TIMEOUT: '300ms',
          REDIS_COMMAND_TIMEOUT: '200ms',
        }),
      );
      try {
        const h = await g.app.inject({ method: 'GET', url: '/health' });
        expect(h.statusCode).toBe(503);
        expect(h.json()).toMatchObject({ status: 'unhealthy', redis: false, kafka: false });
        expect((await g.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
        expect((await g.app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
        // with Redis down an order gets 503 DEPENDENCY_UNAVAILABLE (rate limiter fails open by default)
        const o = await g.app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: jsonHeaders('k-down'),
          payload: { user_id: 'u', item_id: 'x', quantity: 1 },
        });
        expect(o.statusCode).toBe(503);
        expect(o.json().code).toBe('DEPENDENCY_UNAVAILABLE');
        // status reads and event streams answer 503, not hang
        const ev = await g.app.inject({ method: 'GET', url: '/v1/orders/x.abc/events' });
        expect(ev.statusCode).toBe(503);
        expect(ev.json().code).toBe('DEPENDENCY_UNAVAILABLE');
        expect((await g.app.inject({ method: 'GET', url: '/v1/orders/x.abc' })).statusCode).toBe(503);
        // fail-open: the cached sale view is still served
        expect((await g.app.inject({ method: 'GET', url: '/v1/sale' })).statusCode).toBe(200);
      } finally {
        await g.close();
      }
    });

    it('refuses limited routes with 503 while Redis is down when RATE_LIMIT_FAIL_OPEN=false, and /ready fails while draining', async () => {
      const g = await buildGateway(
        testConfig(uniqueSale(), {
          REDIS_ADDR: '127.0.0.1:1',
          RATE_LIMIT_FAIL_OPEN: 'false',
          REDIS_COMMAND_TIMEOUT: '200ms',
        }),
      );
      try {
        const r = await g.app.inject({ method: 'GET', url: '/v1/sale' });
        expect(r.statusCode).toBe(503);
        expect(r.json().code).toBe('DEPENDENCY_UNAVAILABLE');
        expect(r.headers['retry-after']).toBe('1');
      } finally {
        await g.close();
      }
      const ok = await buildGateway(testConfig(sale));
      await ok.init();
      expect((await ok.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
      ok.ctx.closing = true;
      expect((await ok.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
      await ok.close();
    });

    it('exports every runbook gateway metric and the HTTP metrics by route and status', async () => {
      expect((await order({ user_id: 'u-metrics', item_id: 'apple', quantity: 1 }, 'k-metrics')).statusCode).toBe(202);
      await gw.app.inject({ method: 'GET', url: '/metrics' });
      const text = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body;
      for (const name of Object.values(GATEWAY_METRICS)) expect(text).toContain(name);
      // the counter is the duration histogram's count (taken at the scrape): equal for every label set, /metrics too
      const series = (name: string) =>
        [...text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\d+)$`, 'gm'))].map((m) => `${m[1]} ${m[2]}`).sort();
      const requests = series('http_requests_total');
      expect(requests.some((l) => /^method="POST",route="\/v1\/orders",status_code="202" [1-9]/.test(l))).toBe(true);
      expect(requests.some((l) => l.startsWith('method="GET",route="/metrics",status_code="200"'))).toBe(true);
      expect(requests).toEqual(series('http_request_duration_seconds_count'));
      // no request in progress but the scrape itself
      expect(text).toMatch(/^http_requests_inprogress\{method="POST",route="\/v1\/orders"\} 0$/m);
      expect(text).toMatch(/^http_requests_inprogress\{method="GET",route="\/metrics"\} 1$/m);
      expect(text).toMatch(/gateway_circuit_breaker_state 0/);
      // the seed's order latency: the order routes only
      expect(text).toMatch(/gateway_request_duration_seconds_count\{route="\/v1\/orders",status_code="202"\} [1-9]/);
      expect(text).not.toMatch(/gateway_request_duration_seconds_count\{route="\/metrics"/);
    });

    it('counts every order request as received, and body-parser refusals as validation failures', async () => {
      const value = async (name: string) => {
        const text = (await gw.app.inject({ method: 'GET', url: '/metrics' })).body;
        const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
        return Number(m?.[1] ?? 0);
      };
      const received = await value(GATEWAY_METRICS.ordersReceived);
      const invalid = await value(GATEWAY_METRICS.ordersValidationFailed);
      await gw.app.inject({ method: 'POST', url: '/v1/orders', headers: jsonHeaders('k-m'), payload: '{"user_id":' });
      await gw.app.inject({ method: 'POST', url: '/buy', headers: { 'content-type': 'text/plain' }, payload: 'x' });
      await order({ user_id: 'u', item_id: 'apple', quantity: 0 }, 'k-m');
      expect(await value(GATEWAY_METRICS.ordersReceived)).toBe(received + 3);
      expect(await value(GATEWAY_METRICS.ordersValidationFailed)).toBe(invalid + 3);
    });

    it('serves the OpenAPI document', async () => {
      const doc = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json();
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/v1/orders', '/buy', '/v1/orders/{order_id}', '/v1/orders/{order_id}/events']),
      );
      // generated from the route's zod schema (route-schemas.ts): the request body is the input side of CreateOrder
      expect(doc.components.schemas.CreateOrderInput.additionalProperties).toBe(false);
      expect(doc.paths['/v1/orders'].post.requestBody.content['application/json'].schema.$ref).toBe(
        '#/components/schemas/CreateOrderInput',
      );
    });
  });
});
