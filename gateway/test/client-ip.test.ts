/**
 * Client IPs behind a proxy (issue 18, point 1), over real sockets, Redis and Kafka: a gateway configured from a
 * FlashSale spec (saleEnv, as the operator does) listens on 127.0.0.1. With the spec's default trustedProxies
 * (loopback and the private ranges, an in-cluster ingress controller) the loopback peer is a trusted hop, so each
 * forwarded client gets its own per-IP buckets; with trustedProxies naming another range the same peer is untrusted
 * and its X-Forwarded-For is ignored: every request counts against the peer's own address.
 */
import {
  type FlashSaleSpecInput,
  flashSaleSpecSchema,
  type RedisClient,
  rateLimitKey,
  saleEnv,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createOrdersTopic, redisFor, seed, services, uniqueSale } from './helpers.ts';

const sale = uniqueSale('cip');
let redis: RedisClient;

/** A gateway whose environment is the spec's mapping (plus local addresses and small per-IP buckets). */
async function gatewayFor(gateway: FlashSaleSpecInput['gateway']): Promise<Gateway & { url: string }> {
  const s = services();
  const spec = flashSaleSpecSchema.parse({
    startsAt: '2020-01-01T00:00:00Z',
    endsAt: '2099-01-01T00:00:00Z',
    items: [{ id: 'apple', quantity: 1000 }],
    gateway,
  });
  const env = saleEnv(sale, spec, 'gateway', {
    REDIS_ADDR: s.redisAddr,
    KAFKA_ADDR: s.brokers.join(','),
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    RATE_LIMIT_IP_MAX_REQUESTS: '2',
    RATE_LIMIT_READ_MAX_REQUESTS: '2',
  });
  return startGateway(loadConfig(env));
}

let n = 0;
const order = (url: string, xff?: string) =>
  fetch(`${url}/v1/orders`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': `k-${++n}`,
      ...(xff ? { 'x-forwarded-for': xff } : {}),
    },
    body: JSON.stringify({ user_id: `u-${n}`, item_id: 'apple', quantity: 1 }),
  });
const saleView = (url: string, xff?: string) =>
  fetch(`${url}/v1/sale`, { headers: xff ? { 'x-forwarded-for': xff } : {} });

beforeAll(async () => {
  redis = redisFor(services().redisAddr);
  await createOrdersTopic(services().brokers, sale, 1);
  await seed(redis, sale, { apple: 1000 });
});

afterAll(async () => {
  await redis?.quit();
});

describe('spec.gateway.trustedProxies', () => {
  it('default (loopback, private ranges): X-Forwarded-For from the trusted hop keys the per-IP buckets', async () => {
    const gw = await gatewayFor(undefined);
    try {
      expect(gw.ctx.config.trustedProxies).toEqual(['loopback', 'uniquelocal']);
      // order-ip (in the process): two per forwarded client, the third refused; another client is untouched
      expect((await order(gw.url, '203.0.113.7')).status).toBe(202);
      expect((await order(gw.url, '203.0.113.7')).status).toBe(202);
      const third = await order(gw.url, '203.0.113.7');
      expect(third.status).toBe(429);
      expect(third.headers.get('ratelimit-policy')).toMatch(/policy="order-ip"/);
      expect((await order(gw.url, '203.0.113.8')).status).toBe(202);
      // a chain through a second private hop (ingress behind a cloud LB in the VPC): the first public address wins
      expect((await order(gw.url, '203.0.113.9, 10.4.0.17')).status).toBe(202);
      expect((await order(gw.url, '203.0.113.9, 10.4.0.18')).status).toBe(202);
      expect((await order(gw.url, '203.0.113.9')).status).toBe(429);
      // a client's own forged entry left of a public hop is not believed: the public hop is the client
      expect((await order(gw.url, '203.0.113.7, 198.51.100.1')).status).toBe(202);

      // read-ip (in Redis): the bucket is keyed by the forwarded address
      expect((await saleView(gw.url, '203.0.113.20')).status).toBe(200);
      expect(await redis.exists(rateLimitKey(sale, 'read-ip', '203.0.113.20'))).toBe(1);
      expect(await redis.exists(rateLimitKey(sale, 'read-ip', '127.0.0.1'))).toBe(0);
    } finally {
      await gw.close();
    }
  });

  it('a hop outside trustedProxies: X-Forwarded-For is ignored, the peer address is the client', async () => {
    const gw = await gatewayFor({ trustedProxies: ['10.0.0.0/8'] });
    try {
      expect((await order(gw.url, '203.0.113.30')).status).toBe(202);
      expect((await order(gw.url, '203.0.113.31')).status).toBe(202);
      // a third forwarded client, but the same untrusted peer: its bucket is empty
      const third = await order(gw.url, '203.0.113.32');
      expect(third.status).toBe(429);
      expect(third.headers.get('ratelimit-policy')).toMatch(/policy="order-ip"/);

      expect((await saleView(gw.url, '203.0.113.33')).status).toBe(200);
      expect(await redis.exists(rateLimitKey(sale, 'read-ip', '203.0.113.33'))).toBe(0);
      expect(await redis.exists(rateLimitKey(sale, 'read-ip', '127.0.0.1'))).toBe(1);
    } finally {
      await gw.close();
    }
  });
});
