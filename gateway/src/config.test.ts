import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('applies the runbook defaults and maps the rate limit onto a token bucket', () => {
    const c = loadConfig({ SALE_NAME: 'spring' });
    expect(c.port).toBe(8080);
    expect(c.redis.nodes).toEqual([{ host: 'redis-service', port: 6379 }]);
    expect(c.kafka.brokers).toEqual(['kafka-service:9092']);
    expect(c.breaker).toEqual({
      failureThreshold: 5,
      successThreshold: 2,
      baseTimeoutMs: 30_000,
      maxTimeoutMs: 300_000,
    });
    // 60 per 1m: a burst of 60, refilled at 1 token per second
    expect(c.rateLimit.orderUser).toEqual({ capacity: 60, refillPerSecond: 1 });
    expect(c.rateLimit.failOpen).toBe(true);
    expect(c.heap).toMatchObject({ maxSemiSpaceMb: 8, heapGrowingPercent: 50 });
    // the re-executed process gets this environment, with Node's compile cache on (common/src/compile-cache.ts)
    expect(c.heap.env).toMatchObject({
      SALE_NAME: 'spring',
      NODE_COMPILE_CACHE: expect.stringContaining('node-compile-cache'),
    });
    expect(loadConfig({ SALE_NAME: 's', V8_MAX_SEMI_SPACE_MB: '0' }).heap.maxSemiSpaceMb).toBe(0);
    expect(c.shutdownTimeoutMs).toBe(30_000);
  });

  it('names every bad variable', () => {
    try {
      loadConfig({
        SALE_NAME: 'Bad Name',
        PORT: 'http',
        RATE_LIMIT_WINDOW: 'soon',
        CIRCUIT_BREAKER_FAILURE_THRESHOLD: '0',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      for (const v of ['SALE_NAME', 'PORT', 'RATE_LIMIT_WINDOW', 'CIRCUIT_BREAKER_FAILURE_THRESHOLD']) {
        expect(msg).toContain(v);
      }
    }
    expect(() =>
      loadConfig({ SALE_NAME: 's', SALE_STARTS_AT: '2030-01-02T00:00:00Z', SALE_ENDS_AT: '2030-01-01' }),
    ).toThrow(/SALE_ENDS_AT/);
    expect(() => loadConfig({ SALE_NAME: 's', TRUSTED_PROXIES: 'example.com' })).toThrow(/TRUSTED_PROXIES/);
    expect(() => loadConfig({ SALE_NAME: 's', RATE_LIMIT_FAIL_OPEN: 'maybe' })).toThrow(/RATE_LIMIT_FAIL_OPEN/);
  });

  it('trusted proxies: addresses, ranges and named ranges; anything else names TRUSTED_PROXIES', () => {
    expect(loadConfig({ SALE_NAME: 's' }).trustedProxies).toEqual([]);
    expect(loadConfig({ SALE_NAME: 's', TRUSTED_PROXIES: ' loopback, 10.0.0.0/8 ,fd00::/8' }).trustedProxies).toEqual([
      'loopback',
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    for (const bad of ['2', '10.0.0.0/40', 'ingress-nginx']) {
      expect(() => loadConfig({ SALE_NAME: 's', TRUSTED_PROXIES: bad })).toThrow(
        /TRUSTED_PROXIES: .* is not an IP address/,
      );
    }
  });

  it('the buyer identity: body by default; header and jwt need their settings, named at start-up', () => {
    expect(loadConfig({ SALE_NAME: 's' }).identity).toEqual({ source: 'body' });
    expect(loadConfig({ SALE_NAME: 's', IDENTITY_SOURCE: 'header', TRUSTED_PROXIES: 'uniquelocal' }).identity).toEqual({
      source: 'header',
      header: 'X-Authenticated-User',
    });
    expect(() => loadConfig({ SALE_NAME: 's', IDENTITY_SOURCE: 'header' })).toThrow(
      /TRUSTED_PROXIES: IDENTITY_SOURCE=header needs the proxies that set the header/,
    );
    expect(() => loadConfig({ SALE_NAME: 's', IDENTITY_SOURCE: 'cookie' })).toThrow(/IDENTITY_SOURCE/);
    const jwt = { SALE_NAME: 's', IDENTITY_SOURCE: 'jwt' };
    try {
      loadConfig(jwt);
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).issues).toEqual([
        'JWT_ISSUER: required with IDENTITY_SOURCE=jwt (the tokens\' "iss")',
        'JWT_AUDIENCE: required with IDENTITY_SOURCE=jwt (the tokens\' "aud")',
        "JWT_JWKS_URL, JWT_PUBLIC_KEY: IDENTITY_SOURCE=jwt needs exactly one of them (the issuer's keys)",
      ]);
    }
    const full = { ...jwt, JWT_ISSUER: 'https://idp/', JWT_AUDIENCE: 'shop' };
    expect(() => loadConfig({ ...full, JWT_JWKS_URL: 'https://idp/k', JWT_PUBLIC_KEY: '{"keys":[]}' })).toThrow(
      /exactly one of them/,
    );
    expect(() => loadConfig({ ...full, JWT_PUBLIC_KEY: 'not a key' })).toThrow(
      /JWT_PUBLIC_KEY: is not a PEM public key/,
    );
    expect(() => loadConfig({ ...full, JWT_PUBLIC_KEY: '{"keys":[]}' })).toThrow(/JWT_PUBLIC_KEY: is JSON but not/);
    expect(() => loadConfig({ ...full, JWT_JWKS_URL: 'file:///etc/keys' })).toThrow(/JWT_JWKS_URL/);
    expect(() => loadConfig({ ...full, JWT_JWKS_URL: 'https://idp/k', JWT_ALGORITHMS: 'HS256' })).toThrow(
      /JWT_ALGORITHMS: "HS256" is not one of/,
    );
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = loadConfig({ ...full, JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }) as string });
    expect(c.identity).toMatchObject({
      source: 'jwt',
      jwt: { issuer: 'https://idp/', audience: 'shop', userClaim: 'sub', clockToleranceMs: 30_000 },
    });
    expect(c.identity.source === 'jwt' && c.identity.jwt.algorithms).not.toContain('HS256');
  });
});
