/**
 * The analysis client against the harness's real Prometheus: numbers come back from instant queries, an empty
 * result is "no data", a bad query or an unreachable Prometheus is inconclusive (never a pass).
 */
import { describe, expect, inject, it } from 'vitest';
import { analysePreview, judge, queryScalar } from '../src/external/prometheusAnalysis.ts';

function prometheusUrl(): string {
  const p = inject('services').prometheus;
  if (!p) throw new Error('Prometheus (services.prometheus) is missing: the harness did not start it');
  return p.url;
}

describe('Prometheus analysis client', () => {
  it('reads vectors and scalars, and undefined for an empty result', async () => {
    const url = prometheusUrl();
    expect(await queryScalar(url, 'vector(0.25)', 3_000)).toBe(0.25);
    expect(await queryScalar(url, 'scalar(vector(2))', 3_000)).toBe(2);
    expect(await queryScalar(url, 'http_requests_total{service="no-such-service"}', 3_000)).toBeUndefined();
    // numbers from the real server through the pass/fail logic
    const errorRate = await queryScalar(url, 'vector(0.05)', 3_000);
    const p99 = await queryScalar(url, 'vector(0.1)', 3_000);
    expect(judge({ errorRate, p99 }, { maxErrorRate: 0.01, maxP99LatencySeconds: 1 }).result).toBe('Failed');
  });

  it('a bad query throws; the preview of an unscraped Service is inconclusive; an unreachable server too', async () => {
    const url = prometheusUrl();
    await expect(queryScalar(url, 'sum(', 3_000)).rejects.toThrow(/Prometheus query failed/);
    const a = {
      prometheusUrl: url,
      window: '1m',
      maxErrorRate: 0.01,
      maxP99LatencySeconds: 1,
      onInconclusive: 'Pause' as const,
    };
    expect(await analysePreview(a, 'nowhere', 'nothing-preview', 3_000)).toMatchObject({ result: 'Inconclusive' });
    const down = await analysePreview({ ...a, prometheusUrl: 'http://127.0.0.1:9' }, 'x', 'y', 1_000);
    expect(down.result).toBe('Inconclusive');
    expect(down.message).toContain('unreachable');
  });
});
