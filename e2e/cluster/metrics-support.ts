/**
 * The real-node tests of autoscaling and alerting: the chart with its quick start in a fresh namespace (support.ts),
 * the harness's metrics pipeline (metrics-server, KEDA, a Prometheus managed by the Prometheus Operator that picks up
 * the sale's ServiceMonitor and PrometheusRule as kube-prometheus-stack's does), and what the tests read from it:
 * alerts and queries from that Prometheus, the external metric KEDA serves the processor's HPA, the group's lag read
 * straight from the broker, the processor Deployment's replicas over time.
 */
import { afterAll, beforeAll, inject } from 'vitest';
import { leases, NativeProvider } from '../../tools/harness/src/index.ts';
import { SCRAPE_SECONDS } from '../../tools/harness/src/services/metrics-manifests.ts';
import type { ServiceEndpoints } from '../../tools/harness/src/types.ts';
import type { PromSample } from '../packaging/support.ts';
import { promQuery } from '../packaging/support.ts';
import { eventually } from '../support/services.ts';
import {
  crashReport,
  type Json,
  quickstartSale,
  type RealCluster,
  type SaleManifest,
  useRealCluster,
} from './support.ts';

export type Metrics = NonNullable<ServiceEndpoints['metrics']>;

/**
 * The metrics pipeline for this test file: the global setup's when FSE_SERVICES named it, else started here through
 * the harness (an on-demand service: a cold machine builds it now, while the other test worker goes on) and released
 * after the file (stopped when this run started it and no other file still uses it). The endpoint is filled in by the
 * file's first beforeAll.
 */
function useMetricsPipeline(): Metrics {
  const metrics = {} as Metrics;
  const provider = new NativeProvider();
  let leased = false;
  beforeAll(async () => {
    let e = inject('services').metrics;
    if (!e) {
      leases.take('metrics');
      leased = true;
      e = (await provider.up(['metrics'], { owner: 'setup' })).metrics;
    }
    if (!e) throw new Error('the harness did not start the metrics pipeline');
    Object.assign(metrics, e);
  }, 3_600_000);
  afterAll(async () => {
    if (leased) await provider.release(['metrics']);
  }, 300_000);
  return metrics;
}

/**
 * A namespace with the chart and its quick start, the operator refreshing every sale's status (and the consumer lag
 * it exports) every 5 s and scraped every 5 s, as a test needs it (the defaults are 15 s and 30 s); the metrics
 * pipeline up first.
 */
export function useMetricsCluster(prefix: string): { c: RealCluster; metrics: Metrics } {
  const metrics = useMetricsPipeline();
  const c = useRealCluster(prefix, {
    helmArgs: [
      '--set',
      `serviceMonitor.interval=${SCRAPE_SECONDS}s`,
      '--set',
      // the Prometheus Operator refuses a ServiceMonitor whose timeout is longer than its interval
      `serviceMonitor.scrapeTimeout=${SCRAPE_SECONDS}s`,
      '--set-json',
      'operator.extraEnv=[{"name":"STATUS_REFRESH","value":"5s"}]',
      // one 2-core node runs these tests' namespaces, the metrics pipeline and other test files at once: small
      // CPU requests, or pods stay Pending (the quick start's Kafka asks for 250m, the operators 50m each)
      '--set',
      'resources.requests.cpu=20m',
      '--set',
      'quickstart.kafka.resources.requests.cpu=100m',
      '--set',
      'quickstart.redis.resources.requests.cpu=20m',
      // the API server of that node answered a lease renewal later than the default 10 s when two such files ran:
      // both operators took the lease from each other and exited, and a sale went unreconciled for two minutes
      // (the pre-scaling case missed its warm stage). These files test autoscaling and alerts, not failover
      // (e2e/cluster/failover.test.ts keeps the defaults), so their operators get a lease that outlasts the node.
      '--set',
      'leaderElection.leaseDuration=60s',
      '--set',
      'leaderElection.renewDeadline=45s',
      '--set',
      'leaderElection.retryPeriod=5s',
    ],
  });
  return { c, metrics };
}

/**
 * The quick start's sale, monitored the way kube-prometheus-stack users set it up (the release label on the
 * ServiceMonitor and PrometheusRule, scraped every 5 s), then changed by `mutate`.
 */
export function monitoredSale(metrics: Metrics, name: string, mutate?: (m: SaleManifest) => void): SaleManifest {
  return quickstartSale(name, (m) => {
    m.spec.monitoring = { labels: { ...metrics.selectorLabels }, interval: `${metrics.scrapeSeconds}s` };
    for (const part of [m.spec.gateway, m.spec.processor]) part.resources.requests.cpu = '25m';
    mutate?.(m);
  });
}

export const prom = (metrics: Metrics, expr: string): Promise<PromSample[]> => promQuery(metrics.prometheusUrl, expr);

/** The first sample's value as a number (undefined when the query has no result). */
export async function promNumber(metrics: Metrics, expr: string): Promise<number | undefined> {
  const r = await prom(metrics, expr);
  return r.length ? Number(r[0]!.value[1]) : undefined;
}

export interface AlertState {
  alertname: string;
  alertstate: 'pending' | 'firing';
  labels: Record<string, string>;
}

/** Every alert of the sale Prometheus holds now, pending or firing (its ALERTS series). */
export async function alertsOf(metrics: Metrics, ns: string, sale: string): Promise<AlertState[]> {
  const r = await prom(metrics, `ALERTS{namespace="${ns}",sale="${sale}"}`);
  return r.map((s) => ({
    alertname: s.metric.alertname ?? '',
    alertstate: s.metric.alertstate as AlertState['alertstate'],
    labels: s.metric,
  }));
}

/** Waits until Prometheus evaluates the sale's rule group (the operator's PrometheusRule, picked up by its labels). */
export async function waitRulesLoaded(metrics: Metrics, ns: string, sale: string, timeoutMs = 300_000) {
  const group = `flashsale.${ns}.${sale}`;
  return eventually(
    `Prometheus to load and evaluate the rule group ${group}`,
    async () => {
      const r = (await (await fetch(`${metrics.prometheusUrl}/api/v1/rules?type=alert`)).json()) as {
        data: { groups: { name: string; rules: { name: string; health: string }[]; lastEvaluation: string }[] };
      };
      const g = r.data.groups.find((x) => x.name === group);
      return g && g.rules.length > 0 && g.rules.every((x) => x.health === 'ok') && !g.lastEvaluation.startsWith('0001')
        ? g
        : false;
    },
    timeoutMs,
  );
}

/**
 * Waits until the sale's gateway and processor pods are scraped (up == 1 with the sale label); names crashes if not.
 * A new ServiceMonitor reaches Prometheus through the operator's config Secret, the kubelet's sync of that volume and
 * the config reloader: minutes on a busy node (a CI run once took more than 3).
 */
export async function waitScraped(metrics: Metrics, c: RealCluster, sale: string, timeoutMs = 300_000) {
  const ns = c.ns;
  await eventually(
    `Prometheus scraping ${ns}/${sale}'s gateway and processor`,
    async () => {
      const r = await prom(metrics, `up{namespace="${ns}",sale="${sale}"} == 1`);
      const jobs = new Set(r.map((s) => s.metric.job));
      return [...jobs].some((j) => j?.endsWith('-gateway')) && [...jobs].some((j) => j?.endsWith('-metrics'));
    },
    timeoutMs,
  ).catch(async (e) => {
    const crashes = await crashReport(c);
    throw new Error(`${(e as Error).message}${crashes.line}${crashes.logs}`);
  });
}

/**
 * The processor group's lag read straight from the broker, in a pod of the sale (the product image has Node and
 * kafkajs; the quick start's Kafka answers only inside the cluster): end offsets minus committed offsets, per partition.
 */
export async function brokerLag(c: RealCluster, sale: string, pod: string): Promise<number> {
  const script = `
import kafkajs from 'kafkajs';
const k = new kafkajs.Kafka({ clientId: 'lag-probe', brokers: ['kafka-service:9092'], logLevel: 0 });
const a = k.admin();
await a.connect();
const ends = await a.fetchTopicOffsets(${JSON.stringify(`${sale}.orders`)});
const [g] = await a.fetchOffsets({ groupId: ${JSON.stringify(`${sale}.processor`)}, topics: [${JSON.stringify(`${sale}.orders`)}] });
const committed = new Map(g.partitions.map((p) => [p.partition, Number(p.offset)]));
let lag = 0;
for (const e of ends) lag += Number(e.high) - Math.max(committed.get(e.partition) ?? -1, Number(e.low));
console.log(JSON.stringify({ lag }));
await a.disconnect();`;
  const out = await c.kubectl(['exec', pod, '--', 'node', '--input-type=module', '-e', script]);
  return (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { lag: number }).lag;
}

/** A Kubernetes quantity (KEDA serves e.g. "400", "1200m", "12k") as a number. */
export function quantity(q: string): number {
  const m = /^(-?\d+(?:\.\d+)?)([mkMG]?)$/.exec(q.trim());
  if (!m) throw new Error(`not a quantity: ${q}`);
  const scale = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9 }[m[2] as '' | 'm' | 'k' | 'M' | 'G'];
  return Number(m[1]) * scale;
}

/**
 * What the processor's autoscaler sees: the external metric KEDA's metrics API server answers the HPA with, read
 * through the API server's aggregation layer (external.metrics.k8s.io) exactly as the HPA controller reads it.
 */
export async function scalerSees(c: RealCluster, sale: string): Promise<number> {
  const so = `${sale}-processor`;
  const obj = JSON.parse(await c.kubectl(['get', 'scaledobject', so, '-o', 'json'])) as Json;
  const metric = obj.status?.externalMetricNames?.[0];
  if (!metric) throw new Error(`ScaledObject ${so} has no external metric yet`);
  const path = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${c.ns}/${metric}?labelSelector=${encodeURIComponent(`scaledobject.keda.sh/name=${so}`)}`;
  const list = JSON.parse(await c.kubectl(['get', '--raw', path])) as { items: { value: string }[] };
  if (!list.items.length) throw new Error(`no value for ${metric}`);
  return list.items.reduce((n, i) => n + quantity(i.value), 0);
}

/** A component Deployment's replicas: spec (the autoscaler's or the schedule's decision) and ready. */
export async function replicasOf(
  c: RealCluster,
  sale: string,
  component: 'gateway' | 'processor',
): Promise<{ desired: number; ready: number }> {
  const d = JSON.parse(await c.kubectl(['get', 'deployment', `${sale}-${component}`, '-o', 'json'])) as Json;
  return { desired: d.spec.replicas ?? 0, ready: d.status.readyReplicas ?? 0 };
}

export const processorReplicas = (c: RealCluster, sale: string) => replicasOf(c, sale, 'processor');

export interface TimelinePoint {
  /** seconds since the timeline started */
  t: number;
  lag: number | undefined;
  desired: number;
  ready: number;
  /** what the test did just before (a mark) */
  mark?: string;
}

/**
 * Samples the exported lag and a component's replicas (the processor's unless told) every `everyMs` until stopped.
 */
export function timeline(
  c: RealCluster,
  metrics: Metrics,
  sale: string,
  everyMs = 3000,
  component: 'gateway' | 'processor' = 'processor',
) {
  const points: TimelinePoint[] = [];
  const t0 = Date.now();
  let stopped = false;
  let mark: string | undefined;
  const sample = async () => {
    try {
      const [lag, r] = await Promise.all([
        promNumber(metrics, `max(flashsale_consumer_lag{namespace="${c.ns}",sale="${sale}"})`),
        replicasOf(c, sale, component),
      ]);
      points.push({ t: Math.round((Date.now() - t0) / 1000), lag, ...r, ...(mark ? { mark } : {}) });
      mark = undefined;
    } catch {
      // a sample lost to a slow API server: the next one counts
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    points,
    /** notes what the test does now; the next sample carries it */
    mark(what: string) {
      mark = mark ? `${mark}; ${what}` : what;
    },
    async stop() {
      stopped = true;
      await loop;
      await sample();
      return points;
    },
    /** e.g. "0s lag 0, replicas 1 (1 ready); [orders sent] 6s lag 300, replicas 1 (1 ready); ..." (changes only) */
    summary(): string {
      const out: string[] = [];
      let last = '';
      for (const p of points) {
        const s = `lag ${p.lag ?? '?'}, replicas ${p.desired} (${p.ready} ready)`;
        if (s !== last || p.mark) out.push(`${p.mark ? `[${p.mark}] ` : ''}${p.t}s ${s}`);
        last = s;
      }
      return out.join('; ');
    },
  };
}
