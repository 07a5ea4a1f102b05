import { describe, expect, it } from 'vitest';
import { flashSaleSpecSchema, parseFlashSaleSpec } from './flashsale-spec.ts';
import { gatewaySecretEnv, saleEnv } from './sale-env.ts';
import { trustedProxyProblem } from './trusted-proxies.ts';

const spec = flashSaleSpecSchema.parse({
  startsAt: '2026-11-28T08:00:00Z',
  endsAt: '2026-11-28T10:00:00Z',
  items: [{ id: 'a', quantity: 5 }],
  gateway: { rateLimit: { maxRequests: 7 }, env: [{ name: 'LOG_LEVEL', value: 'debug' }] },
  processor: { payment: { failureRate: 0.25 } },
});

describe('saleEnv', () => {
  it('maps the spec once: shared, component, overrides, then the user env', () => {
    const g = saleEnv('s1', spec, 'gateway', { REDIS_ADDR: '127.0.0.1:1', LOG_LEVEL: 'warn' });
    expect(g).toMatchObject({
      SALE_NAME: 's1',
      SALE_STARTS_AT: '2026-11-28T08:00:00Z',
      REDIS_ADDR: '127.0.0.1:1',
      RATE_LIMIT_MAX_REQUESTS: '7',
      LOG_LEVEL: 'debug',
    });
    expect(g.PAYMENT_FAILURE_RATE).toBeUndefined();
    const p = saleEnv('s1', spec, 'processor');
    expect(p).toMatchObject({ PAYMENT_FAILURE_RATE: '0.25', HOLD_TTL: '5m', ENSURE_TOPICS: 'false' });
    expect(p.RATE_LIMIT_MAX_REQUESTS).toBeUndefined();
  });
});

describe('saleEnv: trusted proxies and the buyer identity', () => {
  const base = { startsAt: '2026-11-28T08:00:00Z', endsAt: '2026-11-28T10:00:00Z', items: [{ id: 'a', quantity: 5 }] };
  const gatewayOf = (gateway: unknown) => saleEnv('s1', flashSaleSpecSchema.parse({ ...base, gateway }), 'gateway');
  const problemsOf = (gateway: unknown) => {
    const r = parseFlashSaleSpec({ ...base, gateway });
    return r.ok ? [] : r.problems;
  };

  it('defaults: loopback and the private ranges trusted, the identity from the body', () => {
    const g = gatewayOf(undefined);
    expect(g.TRUSTED_PROXIES).toBe('loopback,uniquelocal');
    expect(g.IDENTITY_SOURCE).toBe('body');
    expect(Object.keys(g).filter((k) => k.startsWith('JWT_') || k === 'IDENTITY_HEADER')).toEqual([]);
    expect(gatewaySecretEnv(flashSaleSpecSchema.parse(base))).toEqual([]);
  });

  it('maps trustedProxies (an empty list trusts nobody) and the header source', () => {
    expect(gatewayOf({ trustedProxies: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'] }).TRUSTED_PROXIES).toBe(
      '10.0.0.0/8,2001:db8::/32,192.0.2.1',
    );
    expect(gatewayOf({ trustedProxies: [] }).TRUSTED_PROXIES).toBe('');
    expect(gatewayOf({ identity: { source: 'header', header: 'X-Auth-Request-User' } })).toMatchObject({
      IDENTITY_SOURCE: 'header',
      IDENTITY_HEADER: 'X-Auth-Request-User',
      TRUSTED_PROXIES: 'loopback,uniquelocal',
    });
  });

  it('maps the jwt source: settings as values, the key as a Secret reference', () => {
    const jwt = { issuer: 'https://idp/', audience: 'shop', jwksUrl: 'https://idp/jwks.json', algorithms: ['ES256'] };
    expect(gatewayOf({ identity: { source: 'jwt', jwt } })).toMatchObject({
      IDENTITY_SOURCE: 'jwt',
      JWT_ISSUER: 'https://idp/',
      JWT_AUDIENCE: 'shop',
      JWT_JWKS_URL: 'https://idp/jwks.json',
      JWT_USER_CLAIM: 'sub',
      JWT_ALGORITHMS: 'ES256',
      JWT_CLOCK_TOLERANCE: '30s',
    });
    const withKey = flashSaleSpecSchema.parse({
      ...base,
      gateway: {
        identity: {
          source: 'jwt',
          jwt: { issuer: 'i', audience: 'a', publicKeySecretRef: { name: 'idp', key: 'key.pem' } },
        },
      },
    });
    expect(saleEnv('s1', withKey, 'gateway').JWT_JWKS_URL).toBeUndefined();
    expect(gatewaySecretEnv(withKey)).toEqual([{ name: 'JWT_PUBLIC_KEY', secret: { name: 'idp', key: 'key.pem' } }]);
  });

  it('refuses bad values with the field named', () => {
    expect(problemsOf({ trustedProxies: ['10.0.0.0/33'] })).toEqual([
      expect.stringMatching(/^spec\.gateway\.trustedProxies\.0: "10\.0\.0\.0\/33" is not an IP address/),
    ]);
    expect(problemsOf({ trustedProxies: ['ingress.example.com'] })[0]).toMatch(/^spec\.gateway\.trustedProxies\.0: /);
    expect(problemsOf({ trustedProxies: ['999.1.1.1'] })[0]).toMatch(/is not an IP address/);
    expect(problemsOf({ trustedProxies: [], identity: { source: 'header' } })).toEqual([
      expect.stringMatching(/^spec\.gateway\.trustedProxies: .*header needs gateway\.trustedProxies/),
    ]);
    expect(problemsOf({ identity: { source: 'jwt' } })).toEqual([
      'spec.gateway.identity.jwt: gateway.identity.jwt is required when source is jwt',
    ]);
    expect(problemsOf({ identity: { source: 'jwt', jwt: { issuer: 'i', audience: 'a' } } })).toEqual([
      'spec.gateway.identity.jwt: gateway.identity.jwt needs exactly one of jwksUrl and publicKeySecretRef',
    ]);
    expect(
      problemsOf({ identity: { source: 'jwt', jwt: { issuer: 'i', audience: 'a', jwksUrl: 'ftp://x' } } })[0],
    ).toMatch(/jwksUrl must be an http\(s\) URL/);
  });
});

describe('trustedProxyProblem', () => {
  it.each(['loopback', 'uniquelocal', 'linklocal', '10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', '::ffff:10.0.0.1'])(
    'accepts %s',
    (v) => expect(trustedProxyProblem(v)).toBeUndefined(),
  );
  it.each(['', '2', 'private', '10.0.0.0/', '10.0.0.0/8/8', 'fe80::1%eth0', '::/129', '1.2.3.4/-1'])(
    'refuses %s',
    (v) => expect(trustedProxyProblem(v)).toMatch(/is not an IP address/),
  );
});
