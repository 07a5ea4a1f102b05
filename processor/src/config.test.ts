import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('processor configuration', () => {
  it('reads the runbook variables with their defaults', () => {
    const c = loadConfig({ SALE_NAME: 'spring' });
    expect(c.redis.nodes).toEqual([{ host: 'redis-service', port: 6379 }]);
    expect(c.kafka.brokers).toEqual(['kafka-service:9092']);
    expect(c.logLevel).toBe('info');
    expect(c.metrics.port).toBe(9090);
    expect(c.payment.failureRate).toBe(0.1);
    expect(c.holdTtlMs).toBe(300_000);
  });

  it('parses durations, lists and modes', () => {
    const c = loadConfig({
      SALE_NAME: 'spring',
      REDIS_ADDR: '10.0.0.1:7000,10.0.0.2:7001',
      REDIS_MODE: 'cluster',
      KAFKA_ADDR: 'k1:9092, k2:9092',
      HOLD_TTL: '90s',
      PAYMENT_TIMEOUT: '300ms',
      METRICS_PORT: '0',
    });
    expect(c.redis).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
    });
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.holdTtlMs).toBe(90_000);
    expect(c.payment.timeoutMs).toBe(300);
    expect(c.metrics.port).toBe(0);
  });

  it('stops with a message naming every bad variable', () => {
    expect(() =>
      loadConfig({
        SALE_NAME: 'Bad Name',
        REDIS_ADDR: 'nohost',
        HOLD_TTL: 'soon',
        PAYMENT_FAILURE_RATE: '2',
        LOG_LEVEL: 'loud',
      }),
    ).toThrow(/SALE_NAME[\s\S]*REDIS_ADDR[\s\S]*LOG_LEVEL[\s\S]*HOLD_TTL[\s\S]*PAYMENT_FAILURE_RATE/);
    expect(() => loadConfig({})).toThrow(/SALE_NAME/);
    expect(() => loadConfig({ SALE_NAME: 's', PAYMENT_LATENCY_MIN: '2s', PAYMENT_LATENCY_MAX: '1s' })).toThrow(
      /PAYMENT_LATENCY_MAX/,
    );
  });
});
