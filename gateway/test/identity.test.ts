/**
 * The buyer's identity (issue 18, point 7) over real sockets, Redis and Kafka: a gateway verifying JWTs against a
 * JSON Web Key Set served on 127.0.0.1 (as an issuer's would be), one with the public key itself (JWT_PUBLIC_KEY), and
 * one trusting an authenticating proxy's header from a trusted hop only. The identity is the user of the order and of
 * the per-user bucket; orders are readable by their buyer alone (another one gets 404, as for no order at all).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { itemKeys, type RedisClient } from '@flashsale/common';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../src/app.ts';
import { createOrdersTopic, readAllOrders, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('idn');
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'flashsale';
let redis: RedisClient;
let jwks: Server;
let jwksUrl = '';
let issuerKey: CryptoKey;
let otherKey: CryptoKey;
let issuerPublic: CryptoKey;

type Claims = { sub?: string; iss?: string; aud?: string; exp?: number | string; kid?: string };
async function token(c: Claims = {}, key: CryptoKey = issuerKey): Promise<string> {
  let t = new SignJWT(c.sub === undefined ? {} : { sub: c.sub })
    .setProtectedHeader({ alg: 'RS256', kid: c.kid ?? 'k1' })
    .setIssuedAt()
    .setIssuer(c.iss ?? ISSUER)
    .setAudience(c.aud ?? AUDIENCE);
  t = t.setExpirationTime(c.exp ?? '5m');
  return t.sign(key);
}

let n = 0;
function order(url: string, headers: Record<string, string>, body: Record<string, unknown> = {}) {
  return fetch(`${url}/v1/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `k-${++n}`, ...headers },
    body: JSON.stringify({ item_id: 'apple', quantity: 1, ...body }),
  });
}
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  await createOrdersTopic(s.brokers, sale, 1);
  await seed(redis, sale, { apple: 1000 });
  const pair = await generateKeyPair('RS256', { extractable: true });
  issuerKey = pair.privateKey;
  issuerPublic = pair.publicKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  await redis?.quit();
  await new Promise((r) => jwks?.close(r));
});

describe('IDENTITY_SOURCE=jwt (a JWKS URL)', () => {
  let gw: Gateway & { url: string };
  beforeAll(async () => {
    gw = await startGateway(
      testConfig(sale, {
        IDENTITY_SOURCE: 'jwt',
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_JWKS_URL: jwksUrl,
        RATE_LIMIT_MAX_REQUESTS: '3',
      }),
    );
  });
  afterAll(() => gw?.close());

  it('accepts a valid token and uses its sub: the order, its Kafka message and the per-user bucket are the sub', async () => {
    const res = await order(gw.url, bearer(await token({ sub: 'alice' })));
    expect(res.status).toBe(202);
    const { order_id } = (await res.json()) as { order_id: string };
    const read = await fetch(`${gw.url}/v1/orders/${order_id}`, { headers: bearer(await token({ sub: 'alice' })) });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ order_id, user_id: 'alice' });
    const msgs = await readAllOrders(services().brokers, sale, 1);
    expect(msgs.find((m) => m.value.order_id === order_id)?.value.user_id).toBe('alice');
    expect(await redis.exists(itemKeys(sale, 'apple').userBucket('alice'))).toBe(1);

    // a body user_id equal to the sub is accepted; another one is refused naming the mismatch, before any Redis work
    expect((await order(gw.url, bearer(await token({ sub: 'alice' })), { user_id: 'alice' })).status).toBe(202);
    const other = await order(gw.url, bearer(await token({ sub: 'alice' })), { user_id: 'mallory' });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({
      code: 'USER_MISMATCH',
      errors: [{ path: 'body.user_id', message: 'differs from the authenticated buyer' }],
    });
    // the per-user bucket (3) is alice's whatever the body says: the third accepted order empties it
    expect((await order(gw.url, bearer(await token({ sub: 'alice' })))).status).toBe(202);
    const limited = await order(gw.url, bearer(await token({ sub: 'alice' })));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('ratelimit-policy')).toMatch(/policy="order-user"/);
    expect((await order(gw.url, bearer(await token({ sub: 'bob' })))).status).toBe(202);
  });

  it.each([
    ['no token', async () => ({}), 'UNAUTHENTICATED', /Bearer token is required/],
    ['a bad signature', async () => bearer(await token({ sub: 'eve' }, otherKey)), 'INVALID_TOKEN', /signature/],
    ['an expired token', async () => bearer(await token({ sub: 'eve', exp: 1_000_000 })), 'TOKEN_EXPIRED', /expired/],
    ['a wrong issuer', async () => bearer(await token({ sub: 'eve', iss: 'https://evil/' })), 'INVALID_TOKEN', /"iss"/],
    ['a wrong audience', async () => bearer(await token({ sub: 'eve', aud: 'other' })), 'INVALID_TOKEN', /"aud"/],
    ['an unknown key id', async () => bearer(await token({ sub: 'eve', kid: 'k9' })), 'INVALID_TOKEN', /no key/],
    ['no sub', async () => bearer(await token({})), 'INVALID_TOKEN', /"sub" is not a user id/],
    ['garbage', async () => bearer('not.a.jwt'), 'INVALID_TOKEN', /malformed/],
  ])('refuses %s with 401 %s', async (_what, headers, code, message) => {
    const res = await order(gw.url, await headers(), { user_id: 'eve' });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe(code);
    expect(body.message).toMatch(message);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await redis.exists(itemKeys(sale, 'apple').userBucket('eve'))).toBe(0);
  });

  it('an order is readable by its buyer only: another identity gets 404, no identity 401 (status and events)', async () => {
    const res = await order(gw.url, bearer(await token({ sub: 'carol' })));
    const { order_id } = (await res.json()) as { order_id: string };
    const get = async (sub?: string, path = '') =>
      fetch(`${gw.url}/v1/orders/${order_id}${path}`, { headers: sub ? bearer(await token({ sub })) : {} });
    const mine = await get('carol');
    expect(mine.status).toBe(200);
    const theirs = await get('dave');
    expect(theirs.status).toBe(404);
    const none = await fetch(`${gw.url}/v1/orders/${order_id.replace(/\.[^.]+$/, '.nope')}`, {
      headers: bearer(await token({ sub: 'dave' })),
    });
    // another's order and no order at all are the same answer
    expect(await theirs.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect([none.status, ((await none.json()) as { code: string }).code]).toEqual([404, 'NOT_FOUND']);
    expect((await get(undefined)).status).toBe(401);

    expect((await get('dave', '/events')).status).toBe(404);
    expect((await get(undefined, '/events')).status).toBe(401);
    const ctl = new AbortController();
    const stream = await fetch(`${gw.url}/v1/orders/${order_id}/events`, {
      headers: bearer(await token({ sub: 'carol' })),
      signal: ctl.signal,
    });
    expect(stream.status).toBe(200);
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('event: status')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"user_id":"carol"');
    ctl.abort();
  });

  it('documents the bearer scheme on the order and status routes', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as {
      components: { securitySchemes: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, method] of [
      ['/v1/orders', 'post'],
      ['/v1/orders/{order_id}', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method]?.security).toEqual([{ bearerAuth: [] }]);
      expect(doc.paths[path]?.[method]?.responses).toHaveProperty('401');
    }
  });
});

describe('IDENTITY_SOURCE=jwt, the issuer unreachable', () => {
  it('answers 503 DEPENDENCY_UNAVAILABLE (not 401: the client did nothing wrong) and counts it', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r)); // nothing listens there any more
    const gw = await startGateway(
      testConfig(sale, {
        IDENTITY_SOURCE: 'jwt',
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`,
      }),
    );
    try {
      const res = await order(gw.url, bearer(await token({ sub: 'ivan' })));
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { code: string }).code).toBe('DEPENDENCY_UNAVAILABLE');
      const unauth = await order(gw.url, {});
      expect(unauth.status).toBe(401);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/gateway_orders_failed_total\{reason="DEPENDENCY_UNAVAILABLE"\} 1/);
      expect(metrics).toMatch(/gateway_orders_failed_total\{reason="UNAUTHENTICATED"\} 1/);
    } finally {
      await gw.close();
    }
  });
});

describe('IDENTITY_SOURCE=jwt (JWT_PUBLIC_KEY, the key from a Secret)', () => {
  it('verifies with the PEM public key', async () => {
    const gw = await startGateway(
      testConfig(sale, {
        IDENTITY_SOURCE: 'jwt',
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_PUBLIC_KEY: await exportSPKI(issuerPublic),
      }),
    );
    try {
      expect((await order(gw.url, bearer(await token({ sub: 'erin' })))).status).toBe(202);
      const bad = await order(gw.url, bearer(await token({ sub: 'erin' }, otherKey)));
      expect([bad.status, ((await bad.json()) as { code: string }).code]).toEqual([401, 'INVALID_TOKEN']);
    } finally {
      await gw.close();
    }
  });
});

describe('IDENTITY_SOURCE=header (an authenticating proxy)', () => {
  it('honours the header from a trusted hop: the order and its reads are that user', async () => {
    const gw = await startGateway(testConfig(sale, { IDENTITY_SOURCE: 'header', TRUSTED_PROXIES: 'loopback' }));
    try {
      const res = await order(gw.url, { 'x-authenticated-user': 'frank' });
      expect(res.status).toBe(202);
      const { order_id } = (await res.json()) as { order_id: string };
      const mine = await fetch(`${gw.url}/v1/orders/${order_id}`, { headers: { 'x-authenticated-user': 'frank' } });
      expect([mine.status, ((await mine.json()) as { user_id: string }).user_id]).toEqual([200, 'frank']);
      const theirs = await fetch(`${gw.url}/v1/orders/${order_id}`, { headers: { 'x-authenticated-user': 'gina' } });
      expect(theirs.status).toBe(404);
      const none = await order(gw.url, {});
      expect([none.status, ((await none.json()) as { code: string }).code]).toEqual([401, 'UNAUTHENTICATED']);
    } finally {
      await gw.close();
    }
  });

  it('ignores the header from an untrusted hop: 401, nothing admitted', async () => {
    const gw = await startGateway(
      testConfig(sale, { IDENTITY_SOURCE: 'header', TRUSTED_PROXIES: '10.0.0.0/8', IDENTITY_HEADER: 'X-Auth-User' }),
    );
    try {
      const res = await order(gw.url, { 'x-auth-user': 'henry' }, { user_id: 'henry' });
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        code: 'UNAUTHENTICATED',
        message: 'X-Auth-User is honoured only from a trusted proxy (TRUSTED_PROXIES)',
      });
      expect(await redis.exists(itemKeys(sale, 'apple').userBucket('henry'))).toBe(0);
    } finally {
      await gw.close();
    }
  });
});
