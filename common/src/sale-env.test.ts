import { describe, expect, it } from 'vitest';
import { flashSaleSpecSchema } from './flashsale-spec.ts';
import { saleEnv } from './sale-env.ts';

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
