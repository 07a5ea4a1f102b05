import { describe, expect, it } from 'vitest';
import { analysisQueries, judge } from './prometheusAnalysis.ts';

const limits = { maxErrorRate: 0.01, maxP99LatencySeconds: 1 };

describe('analysis queries', () => {
  it("select the buyers' requests to the preview Service in its namespace over the window", () => {
    const q = analysisQueries('shop', 'demo-gateway-preview', '2m');
    const sel =
      'namespace="shop",service="demo-gateway-preview",route=~"/v1/orders|/buy|/v1/orders/:order_id|/v1/sale"';
    expect(q.errorRate).toBe(
      `(sum(rate(http_requests_total{${sel},status_code=~"5.."}[120s])) or vector(0)) / sum(rate(http_requests_total{${sel}}[120s]))`,
    );
    expect(q.p99).toBe(
      `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{${sel}}[120s])))`,
    );
    expect(analysisQueries('a', 'b', '300ms').p99).toContain('[1s]');
  });
});

describe('judge', () => {
  it('passes within both thresholds', () => {
    expect(judge({ errorRate: 0.005, p99: 0.2 }, limits).result).toBe('Passed');
    expect(judge({ errorRate: 0.01, p99: 1 }, limits).result).toBe('Passed');
  });
  it('fails on either threshold, and failure wins over missing data', () => {
    expect(judge({ errorRate: 0.02, p99: 0.2 }, limits)).toMatchObject({ result: 'Failed' });
    expect(judge({ errorRate: 0, p99: 1.5 }, limits).message).toContain('p99 latency above threshold');
    expect(judge({ errorRate: 0.5, p99: undefined }, limits).result).toBe('Failed');
    expect(judge({ errorRate: undefined, p99: 3 }, limits).result).toBe('Failed');
  });
  it('is inconclusive without data (no series, or NaN from 0/0 without traffic)', () => {
    expect(judge({ errorRate: undefined, p99: undefined }, limits).result).toBe('Inconclusive');
    expect(judge({ errorRate: Number.NaN, p99: 0.1 }, limits).result).toBe('Inconclusive');
    expect(judge({ errorRate: 0, p99: Number.NaN }, limits).message).toContain('no data');
  });
});
