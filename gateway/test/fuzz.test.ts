/** Thousands of malformed bodies and headers: only 4xx (or 202 for the odd valid order), never a 5xx or a crash. */
import type { RedisClient } from '@flashsale/common';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../src/app.ts';
import { createOrdersTopic, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('fuzz');
let gw: Gateway;
let redis: RedisClient;

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  await createOrdersTopic(s.brokers, sale, 1);
  await seed(redis, sale, { a: 1_000_000, b: 0 });
  gw = await buildGateway(testConfig(sale, { RATE_LIMIT_ENABLED: 'false' }));
  await gw.init();
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

/** Header values Node's HTTP layer accepts (anything else is refused before it reaches a server). */
const headerText = fc.string({ maxLength: 200 }).filter((s) => /^[\x20-\x7e]*$/.test(s) && s.trim() === s);
const anyJsonValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
);
const nearlyValid = fc.record(
  {
    user_id: fc.oneof(anyJsonValue, fc.constantFrom('u1', 'user-2')),
    item_id: fc.oneof(anyJsonValue, fc.constantFrom('a', 'b', 'zzz', 'a.b', '{a}')),
    quantity: fc.oneof(anyJsonValue, fc.integer({ min: -5, max: 200 })),
    amount: fc.oneof(anyJsonValue, fc.integer({ min: -5, max: 200 })),
    request_id: fc.oneof(anyJsonValue, fc.string({ maxLength: 200 })),
    __proto__: fc.constant({ polluted: true }),
    constructor: fc.constant({ prototype: {} }),
    extra: anyJsonValue,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 4, arbitrary: nearlyValid.map((o) => JSON.stringify(o)) },
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom('', '{', '[]', 'null', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}', '\u0000'),
  fc.string({ minLength: 5000, maxLength: 6000 }),
);
const request = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
  url: fc.oneof(
    fc.constantFrom('/v1/orders', '/buy', '/v1/orders?x=1', '/v1/sale', '/buy/', '/v1/orders/%zz'),
    fc.string({ maxLength: 150 }).map((s) => `/v1/orders/${encodeURIComponent(s)}`),
    fc.string({ maxLength: 80 }).map((s) => `/v1/orders/${encodeURIComponent(s)}.x/events`),
  ),
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
    { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/xml', '') },
    { weight: 1, arbitrary: headerText },
  ),
  idem: fc.option(fc.oneof(headerText, fc.constantFrom('k1', 'k2')), { nil: undefined, freq: 4 }),
  correlation: fc.option(headerText, { nil: undefined }),
  xff: fc.option(headerText, { nil: undefined }),
  body,
});

describe('fuzzing the HTTP surface', () => {
  it('answers 2,000 malformed requests with well-formed 4xx errors and never a 5xx', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.contentType) headers['content-type'] = r.contentType;
        if (r.idem !== undefined) headers['idempotency-key'] = r.idem;
        if (r.correlation !== undefined) headers['x-correlation-id'] = r.correlation;
        if (r.xff !== undefined) headers['x-forwarded-for'] = r.xff;
        const hasBody = r.method === 'POST' || r.method === 'PUT' || r.method === 'DELETE';
        const res = await gw.app.inject({
          method: r.method as 'POST',
          url: r.url,
          headers,
          ...(hasBody ? { payload: r.body } : {}),
        });
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, `${r.method} ${r.url} -> ${res.statusCode} ${res.body.slice(0, 200)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const e = res.json();
          expect(typeof e.code).toBe('string');
          expect(typeof e.message).toBe('string');
          expect(e.correlation_id).toBe(res.headers['x-correlation-id']);
        }
      }),
      { numRuns: 2000, seed: 20261127 },
    );
    // the run exercised the refusals, not only one of them
    expect([...seen.keys()].filter((c) => c >= 400).length).toBeGreaterThanOrEqual(4);
  });
});
