/**
 * Analysis of a blue-green preview through Prometheus (Flagger's request-success-rate and request-duration checks):
 * the 5xx share and the p99 latency of the buyers' requests to the pods behind the preview Service over the analysis
 * window. Series are matched on `namespace` and `service` (the labels the Prometheus Operator gives every
 * ServiceMonitor target: a pod behind both gateway Services is scraped once per Service) and on the API routes.
 *
 * Verdicts: Passed, Failed (a threshold exceeded: failure wins over missing data), Inconclusive (no series, NaN from
 * 0/0 without traffic, or Prometheus unreachable). What Inconclusive does is `analysis.onInconclusive`.
 */
import { GATEWAY_METRICS, parseDurationMs, type RolloutAnalysis } from '@flashsale/common';

export interface AnalysisQueries {
  errorRate: string;
  p99: string;
}

/** PromQL range selector of a duration ("90s" stays "90s"; "300ms" becomes "1s": Prometheus needs >= 1 s). */
const range = (window: string) => `${Math.max(1, Math.round(parseDurationMs(window) / 1000))}s`;

/**
 * The buyers' routes. Probes (/ready, /livez), scrapes (/metrics) and /health answer on every pod at a steady pace and
 * would make an idle preview look healthy; the event stream's duration is a stream's life, not a latency.
 */
export const ANALYSED_ROUTES = ['/v1/orders', '/buy', '/v1/orders/:order_id', '/v1/sale'];

export function analysisQueries(namespace: string, service: string, window: string): AnalysisQueries {
  const sel = `namespace="${namespace}",service="${service}",route=~"${ANALYSED_ROUTES.join('|')}"`;
  const w = range(window);
  const req = GATEWAY_METRICS.httpRequests;
  return {
    // no 5xx series at all is a rate of 0 (not "no data"); no request at all stays empty or 0/0: inconclusive
    errorRate: `(sum(rate(${req}{${sel},status_code=~"5.."}[${w}])) or vector(0)) / sum(rate(${req}{${sel}}[${w}]))`,
    p99: `histogram_quantile(0.99, sum by (le) (rate(${GATEWAY_METRICS.httpRequestDuration}_bucket{${sel}}[${w}])))`,
  };
}

export type AnalysisResult = 'Passed' | 'Failed' | 'Inconclusive';
export interface Verdict {
  result: AnalysisResult;
  message: string;
}

export interface AnalysisValues {
  /** undefined: no series */
  errorRate: number | undefined;
  p99: number | undefined;
}

const known = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);
const fmt = (v: number | undefined) => (known(v) ? String(Number(v.toPrecision(4))) : 'no data');

/** Pure pass/fail logic. */
export function judge(v: AnalysisValues, a: Pick<RolloutAnalysis, 'maxErrorRate' | 'maxP99LatencySeconds'>): Verdict {
  const p99 = known(v.p99) ? `${fmt(v.p99)}s` : fmt(v.p99);
  const seen = `error rate ${fmt(v.errorRate)} (max ${a.maxErrorRate}), p99 ${p99} (max ${a.maxP99LatencySeconds}s)`;
  const failed: string[] = [];
  if (known(v.errorRate) && v.errorRate > a.maxErrorRate) failed.push('error rate');
  if (known(v.p99) && v.p99 > a.maxP99LatencySeconds) failed.push('p99 latency');
  if (failed.length > 0) return { result: 'Failed', message: `${failed.join(' and ')} above threshold: ${seen}` };
  if (!known(v.errorRate) || !known(v.p99))
    return { result: 'Inconclusive', message: `no data for the preview: ${seen}` };
  return { result: 'Passed', message: seen };
}

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { value?: [number, string] }[] | [number, string] };
}

/** One instant query; undefined when the result is empty. Throws on HTTP or Prometheus errors. */
export async function queryScalar(baseUrl: string, promql: string, timeoutMs: number): Promise<number | undefined> {
  const url = `${baseUrl.replace(/\/+$/, '')}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}` }))) as PromResponse;
  if (!res.ok || body.status !== 'success') throw new Error(`Prometheus query failed: ${body.error ?? res.status}`);
  const r = body.data?.result;
  if (body.data?.resultType === 'scalar' && Array.isArray(r)) return Number((r as [number, string])[1]);
  const first = (r as { value?: [number, string] }[] | undefined)?.[0];
  return first?.value ? Number(first.value[1]) : undefined;
}

export async function analysePreview(
  a: Pick<RolloutAnalysis, 'prometheusUrl' | 'window' | 'maxErrorRate' | 'maxP99LatencySeconds'>,
  namespace: string,
  service: string,
  timeoutMs: number,
): Promise<Verdict> {
  const q = analysisQueries(namespace, service, a.window);
  try {
    const [errorRate, p99] = await Promise.all([
      queryScalar(a.prometheusUrl, q.errorRate, timeoutMs),
      queryScalar(a.prometheusUrl, q.p99, timeoutMs),
    ]);
    return judge({ errorRate, p99 }, a);
  } catch (e) {
    return { result: 'Inconclusive', message: `Prometheus ${a.prometheusUrl} unreachable: ${(e as Error).message}` };
  }
}
