/**
 * The OpenAPI document and the validation cannot drift: requests drawn (fast-check, fixed seed) from valid and invalid
 * pieces are judged twice, by the document the gateway serves (its request schemas and parameters, checked with Ajv
 * as any client or schemathesis would) and by the gateway itself over real Redis and Kafka. A request the document
 * accepts is never refused with 400, one it refuses always is, and every answer matches the document's schema for
 * its status, with the documented headers. Also: every route is in the document, generated from its own schema.
 */
import type { RedisClient } from '@flashsale/common';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../src/app.ts';
import { createOrdersTopic, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('oas');
let gw: Gateway;
let redis: RedisClient;
// biome-ignore lint/suspicious/noExplicitAny: the served document, read as JSON
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  await createOrdersTopic(s.brokers, sale, 1);
  await seed(redis, sale, { apple: 1_000_000 });
  gw = await buildGateway(testConfig(sale, { RATE_LIMIT_ENABLED: 'false' }));
  await gw.init();
  doc = (await gw.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  ajv.addSchema({ ...doc, $id: 'https://openapi.local/doc' });
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

/** A validator for the schema at `pointer` in the served document (refs resolve inside the document). */
const at = (pointer: string) => ajv.compile({ $ref: `https://openapi.local/doc#${pointer}` });
const pointerOf = (path: string) => path.replaceAll('~', '~0').replaceAll('/', '~1');

interface Param {
  name: string;
  in: string;
  required?: boolean;
  schema: unknown;
}

/** The document's verdict on a request: parameters by location (header names case-insensitive), then the body. */
function documentAccepts(path: string, method: string, req: { headers: Record<string, string>; body?: unknown }) {
  const op = doc.paths[path][method];
  const params: Param[] = op.parameters ?? [];
  for (const [i, p] of params.entries()) {
    if (p.in !== 'header') continue;
    const value = Object.entries(req.headers).find(([k]) => k.toLowerCase() === p.name.toLowerCase())?.[1];
    if (value === undefined) {
      if (p.required) return false;
      continue;
    }
    if (!at(`/paths/${pointerOf(path)}/${method}/parameters/${i}/schema`)(value)) return false;
  }
  if (op.requestBody) {
    return at(`/paths/${pointerOf(path)}/${method}/requestBody/content/application~1json/schema`)(req.body);
  }
  return true;
}

/** The answer against the document: its status is documented, its body matches, its documented headers are typed. */
function expectDocumented(
  path: string,
  method: string,
  status: number,
  body: string,
  headers: Record<string, unknown>,
) {
  const res = doc.paths[path][method].responses[String(status)];
  expect(res, `${method.toUpperCase()} ${path} answered an undocumented ${status}: ${body}`).toBeDefined();
  const json = res.content?.['application/json'];
  if (json) {
    const valid = at(`/paths/${pointerOf(path)}/${method}/responses/${status}/content/application~1json/schema`);
    expect(valid(JSON.parse(body)), `${status} ${body}: ${JSON.stringify(valid.errors)}`).toBe(true);
  }
  for (const [name, h] of Object.entries((res.headers ?? {}) as Record<string, { schema: { type?: string } }>)) {
    const v = headers[name.toLowerCase()];
    if (v === undefined) continue;
    if (h.schema.type === 'integer') expect(String(v), `${name}: ${v}`).toMatch(/^\d+$/);
  }
}

const text = (n: number) => 'x'.repeat(n);
/** Mostly valid values, some invalid ones: both sides of the line are reached often. */
const mostly = <T, U>(valid: T[], invalid: U[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...valid) }, { weight: 1, arbitrary: fc.constantFrom(...invalid) });
const userId = mostly(['u-1', 'u-2', text(128)], ['', 'a b', text(129), 5, null]);
const itemId = mostly(['apple', 'zzz'], ['a b', 'a.b', '', 7]);
/** now and then a field the route does not know */
const extra = mostly([{}], [{ price: 0 }, { amount: 1 }, { quantity: 1 }, { user: 'u' }]);
/** where the idempotency key travels: the header, the body's request_id, both (equal or not), or nowhere */
const keyPlace = fc.constantFrom('header', 'header', 'body', 'both', 'both', 'differ', 'nowhere');
const orderRequest = fc.record({
  key: mostly(['k-1', 'k-2', text(128), '{k}'], ['a b', '', text(129), 'k\tk']),
  place: keyPlace,
  correlation: fc.constantFrom(undefined, 'c-1', text(200), 'a b'),
  route_body: fc.oneof(
    fc.record({
      route: fc.constant('/v1/orders'),
      body: fc.record({
        user_id: userId,
        item_id: itemId,
        quantity: mostly([1, 2, 100, undefined], [0, 101, 1.5, '1', -1]),
      }),
    }),
    fc.record({
      route: fc.constant('/buy'),
      body: fc.record({ user_id: userId, item_id: itemId, amount: mostly([1, 3, undefined], [0, 101, '2']) }),
    }),
  ),
  extra,
});

describe('the OpenAPI document and the validation', () => {
  it('every route is in the document, with the summary declared on it', async () => {
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(
      expect.arrayContaining(['/v1/orders', '/buy', '/v1/orders/{order_id}', '/v1/orders/{order_id}/events']),
    );
    for (const p of paths) {
      for (const [method, op] of Object.entries(doc.paths[p] as Record<string, { summary?: string }>)) {
        const url = p.replace('{order_id}', ':order_id');
        expect(gw.app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method} ${p}`).toBe(true);
        expect(op.summary, `${method} ${p}`).toBeTruthy();
      }
    }
    expect(doc.paths['/v1/orders'].post.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateOrderInput',
    );
    expect(doc.components.schemas.CreateOrderInput.additionalProperties).toBe(false);
  });

  it('agree on 400 cases of POST /v1/orders and /buy, and every answer is documented', async () => {
    const seen = new Map<string, number>();
    for (const r of fc.sample(orderRequest, { seed: 18, numRuns: 300 })) {
      const { route } = r.route_body;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (r.place === 'header' || r.place === 'both' || r.place === 'differ') headers['Idempotency-Key'] = r.key;
      if (r.correlation !== undefined) headers['X-Correlation-ID'] = r.correlation;
      const requestId = { body: r.key, both: r.key, differ: 'k-other' } as Record<string, string | undefined>;
      const payload = JSON.stringify({ ...r.route_body.body, request_id: requestId[r.place], ...r.extra });
      const b = JSON.parse(payload) as Record<string, unknown>;
      // the rule across header and body, stated in the operation's description
      const key = headers['Idempotency-Key'];
      const rid = typeof b.request_id === 'string' ? b.request_id : undefined;
      const crossOk =
        (key !== undefined || rid !== undefined) && (key === undefined || rid === undefined || key === rid);
      const accepted = documentAccepts(route, 'post', { headers, body: b }) && crossOk;
      const res = await gw.app.inject({ method: 'POST', url: route, headers, payload });
      const verdict = `${accepted ? 'valid' : 'invalid'} -> ${res.statusCode}`;
      seen.set(verdict, (seen.get(verdict) ?? 0) + 1);
      expect(res.statusCode === 400, `${route} ${JSON.stringify(r)} (document: ${verdict}): ${res.body}`).toBe(
        !accepted,
      );
      expectDocumented(route, 'post', res.statusCode, res.body, res.headers);
    }
    // both sides of the line were reached often, and valid orders got through
    const count = (prefix: string) => [...seen].reduce((n, [v, c]) => (v.startsWith(prefix) ? n + c : n), 0);
    expect(count('valid'), JSON.stringify([...seen])).toBeGreaterThan(50);
    expect(count('invalid'), JSON.stringify([...seen])).toBeGreaterThan(50);
    expect(seen.get('valid -> 202') ?? 0, JSON.stringify([...seen])).toBeGreaterThan(10);
  });

  it('agree on the order id of GET /v1/orders/{order_id} and its event stream', async () => {
    const ids = fc.sample(
      fc.oneof(
        fc.constantFrom('apple.x1', 'zzz.abc-1', 'a.b', 'ab', 'apple.', '.x1', 'apple.x.1', 'a b.c', `${text(120)}.a`),
        fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })).map(([a, c]) => `${a}.${c}`),
      ),
      { seed: 18, numRuns: 120 },
    );
    for (const id of ids) {
      for (const suffix of ['', '/events']) {
        const path = `/v1/orders/{order_id}${suffix}`;
        const schema = at(`/paths/${pointerOf(path)}/get/parameters/0/schema`);
        const res = await gw.app.inject({ method: 'GET', url: `/v1/orders/${encodeURIComponent(id)}${suffix}` });
        expect(res.statusCode === 400, `${JSON.stringify(id)}${suffix}: ${res.body}`).toBe(!schema(id));
        expectDocumented(path, 'get', res.statusCode, res.body, res.headers);
      }
    }
  });

  it('documents the answers of the sale, health and readiness routes', async () => {
    for (const [path, url] of [
      ['/v1/sale', '/v1/sale'],
      ['/health', '/health'],
      ['/ready', '/ready'],
      ['/livez', '/livez'],
    ] as const) {
      const res = await gw.app.inject({ method: 'GET', url });
      expectDocumented(path, 'get', res.statusCode, res.body, res.headers);
    }
  });
});
