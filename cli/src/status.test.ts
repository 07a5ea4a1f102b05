import { describe, expect, it } from 'vitest';
import { metricSum, renderStatus, type StatusSnapshot, withRates } from './status.ts';

describe('status helpers', () => {
  it('sums a metric over its label sets and ignores longer names', () => {
    const text = [
      '# HELP processor_dlq_size x',
      'processor_dlq_size 3',
      'processor_dlq_size_total 100',
      'gateway_orders_received_total{route="/v1/orders"} 5',
      'gateway_orders_received_total{route="/buy"} 2',
    ].join('\n');
    expect(metricSum(text, 'processor_dlq_size')).toBe(3);
    expect(metricSum(text, 'gateway_orders_received_total')).toBe(7);
    expect(Number.isNaN(metricSum(text, 'absent'))).toBe(true);
  });

  it('computes rates between two refreshes and renders totals', () => {
    const base: StatusSnapshot = {
      sale: 's',
      at: '2026-01-01T00:00:00.000Z',
      items: [{ id: 'a', initial: 10, sold: 2, held: 1, remaining: 7, drift: 0 }],
      totals: { initial: 10, sold: 2, held: 1, remaining: 7, drift: 0, refunded: 0 },
      gateway: { up: true, received: 100, accepted: 10, rateLimited: 0 },
      processor: { up: 1, processed: 10, dlq: 0, lag: 0, refunds: 0 },
      rates: null,
    };
    const next = {
      ...base,
      at: '2026-01-01T00:00:02.000Z',
      totals: { ...base.totals, sold: 6 },
      gateway: { ...(base.gateway as NonNullable<StatusSnapshot['gateway']>), received: 300 },
    };
    const r = withRates(next, base);
    expect(r.rates).toEqual({ receivedPerSec: 100, soldPerSec: 2, processedPerSec: 0 });
    expect(renderStatus(r)).toMatch(/total\s+6\s+1\s+7\s+10/);
    expect(renderStatus(r)).not.toMatch(/refunded \d+ unit/);
    const refunded = renderStatus({
      ...r,
      totals: { ...r.totals, refunded: 3 },
      processor: { up: 1, processed: 10, dlq: 0, lag: 0, refunds: 3 },
    });
    expect(refunded).toMatch(/refunded\s+3 unit\(s\) paid after their hold expired/);
    expect(refunded).toMatch(/processed 10\s+refunded 3/);
  });
});
