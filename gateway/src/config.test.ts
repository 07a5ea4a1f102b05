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
    expect(c.maxSemiSpaceMb).toBe(8);
    expect(loadConfig({ SALE_NAME: 's', V8_MAX_SEMI_SPACE_MB: '0' }).maxSemiSpaceMb).toBe(0);
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
});
