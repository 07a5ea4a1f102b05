/**
 * The Grafana dashboard of the engine, built from the metric names in common/src/metrics.ts (no name spelled here).
 * `node tools/gen-rules.ts` writes it to monitoring/dashboards/flash-sale.json and the chart's files/dashboards/.
 * Every query selects `namespace=~"$namespace", sale=~"$sale"` (the labels the sale's ServiceMonitor sets).
 */
import { GATEWAY_METRICS as G, OPERATOR_METRICS as O, PROCESSOR_METRICS as P } from '../common/src/metrics.ts';

export const DASHBOARD_UID = 'flash-sale-engine';
/** The label matchers every gateway and processor query carries. */
export const SEL = 'namespace=~"$namespace", sale=~"$sale"';

export interface Target {
  expr: string;
  legendFormat: string;
  refId: string;
  instant?: boolean;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: 'prometheus'; uid: '${datasource}' };
  targets?: Target[];
  fieldConfig?: unknown;
  options?: unknown;
  collapsed?: boolean;
  panels?: Panel[];
}

/** Which program a panel's data comes from: the dashboard test checks gateway and processor panels live. */
export type Source = 'gateway' | 'processor' | 'operator';

interface PanelSpec {
  title: string;
  source: Source;
  type?: 'timeseries' | 'stat';
  unit?: string;
  description?: string;
  targets: [expr: string, legend: string][];
  w?: number;
  mappings?: unknown[];
}

const ROWS: [row: string, panels: PanelSpec[]][] = [
  [
    'Gateway',
    [
      {
        title: 'Request rate',
        source: 'gateway',
        unit: 'reqps',
        targets: [[`sum by (route) (rate(${G.httpRequests}{${SEL}}[$__rate_interval]))`, '{{route}}']],
      },
      {
        title: 'Responses by status',
        source: 'gateway',
        unit: 'reqps',
        description: 'Every HTTP status; 4xx are refusals (validation, rate limit, sold out), 5xx are errors.',
        targets: [[`sum by (status_code) (rate(${G.httpRequests}{${SEL}}[$__rate_interval]))`, '{{status_code}}']],
      },
      {
        title: 'Error rate (5xx share)',
        source: 'gateway',
        unit: 'percentunit',
        targets: [
          [
            `sum(rate(${G.httpRequests}{${SEL}, status_code=~"5.."}[$__rate_interval])) / sum(rate(${G.httpRequests}{${SEL}}[$__rate_interval])) or vector(0)`,
            '5xx share',
          ],
        ],
      },
      {
        title: 'Latency p50 / p95 / p99',
        source: 'gateway',
        unit: 's',
        targets: ([0.5, 0.95, 0.99] as const).map((q) => [
          `histogram_quantile(${q}, sum by (le) (rate(${G.httpRequestDuration}_bucket{${SEL}}[$__rate_interval])))`,
          `p${Math.round(q * 100)}`,
        ]),
      },
      {
        title: 'In-flight requests',
        source: 'gateway',
        targets: [[`sum by (route) (${G.httpRequestsInProgress}{${SEL}})`, '{{route}}']],
      },
      {
        title: 'Response size p95',
        source: 'gateway',
        unit: 'bytes',
        targets: [
          [
            `histogram_quantile(0.95, sum by (le, route) (rate(${G.httpResponseSize}_bucket{${SEL}}[$__rate_interval])))`,
            '{{route}}',
          ],
        ],
      },
      {
        title: 'Order totals',
        source: 'gateway',
        type: 'stat',
        targets: [
          [`sum(${G.ordersReceived}{${SEL}})`, 'received'],
          [`sum(${G.ordersSuccessful}{${SEL}})`, 'queued'],
          [`sum(${G.ordersFailed}{${SEL}}) or vector(0)`, 'failed'],
          [`sum(${G.rateLimited}{${SEL}}) or vector(0)`, 'rate limited'],
        ],
      },
      {
        title: 'Circuit breaker (0 closed, 1 open, 2 half-open)',
        source: 'gateway',
        targets: [[`max by (pod, instance) (${G.circuitBreakerState}{${SEL}})`, '{{pod}}{{instance}}']],
        mappings: [
          {
            type: 'value',
            options: {
              '0': { text: 'closed', color: 'green' },
              '1': { text: 'open', color: 'red' },
              '2': { text: 'half-open', color: 'orange' },
            },
          },
        ],
      },
    ],
  ],
  [
    'Processor',
    [
      {
        title: 'Throughput',
        source: 'processor',
        unit: 'ops',
        targets: [
          [`sum(rate(${P.ordersProcessed}{${SEL}}[$__rate_interval]))`, 'processed'],
          [`sum(rate(${P.ordersProcessedSuccess}{${SEL}}[$__rate_interval]))`, 'confirmed'],
        ],
      },
      {
        title: 'Failures by reason',
        source: 'processor',
        unit: 'ops',
        targets: [
          [`sum by (reason) (rate(${P.ordersProcessedFailed}{${SEL}}[$__rate_interval])) or vector(0)`, '{{reason}}'],
          [`sum(rate(${P.ordersSoldOut}{${SEL}}[$__rate_interval])) or vector(0)`, 'sold out'],
        ],
      },
      {
        title: 'Processing time p50 / p99',
        source: 'processor',
        unit: 's',
        targets: ([0.5, 0.99] as const).map((q) => [
          `histogram_quantile(${q}, sum by (le) (rate(${P.processingDuration}_bucket{${SEL}}[$__rate_interval])))`,
          `p${Math.round(q * 100)}`,
        ]),
      },
      {
        title: 'DLQ size',
        source: 'processor',
        description:
          'Dead letters not yet redriven. payment_failed and payment_timeout are business outcomes: the DLQ alerts leave them out.',
        targets: [[`max by (reason) (${P.dlqSize}{${SEL}})`, '{{reason}}']],
      },
      {
        title: 'DLQ oldest message age',
        source: 'processor',
        unit: 's',
        targets: [[`max by (reason) (${P.dlqOldestAge}{${SEL}})`, '{{reason}}']],
      },
      {
        title: 'Consumer lag by partition',
        source: 'processor',
        targets: [[`max by (partition) (${P.consumerLag}{${SEL}})`, 'partition {{partition}}']],
      },
      {
        title: 'Holds expired and late payments refunded',
        source: 'processor',
        unit: 'ops',
        description:
          'Holds the sweeper returned to stock (payment slower than processor.holdTtl, or never answered), and payments that landed after their hold expired, refunded by the processor (order REFUNDED, no dead letter).',
        targets: [
          [`sum(rate(${P.holdsExpired}{${SEL}}[$__rate_interval]))`, 'holds expired'],
          [`sum by (reason) (rate(${P.refunds}{${SEL}}[$__rate_interval])) or vector(0)`, 'refunded ({{reason}})'],
        ],
      },
      {
        title: 'Rate-limited requests by policy',
        source: 'gateway',
        unit: 'reqps',
        description:
          '429 answers per token bucket (user, ip, read); FlashSaleRateLimitRejectionsRising watches the rise.',
        targets: [[`sum by (policy) (rate(${G.rateLimited}{${SEL}}[$__rate_interval])) or vector(0)`, '{{policy}}']],
      },
    ],
  ],
  [
    'Scaling and the operator',
    [
      {
        title: 'Replicas: the autoscaler decision and ready pods',
        source: 'operator',
        description:
          "desired: each Deployment's spec.replicas (what KEDA's or the HPA's last decision set); ready: pods ready. From the operator at each reconcile.",
        targets: [
          [
            `max by (component, state) (${O.saleReplicas}{namespace=~"$namespace", sale=~"$sale"})`,
            '{{component}} {{state}}',
          ],
        ],
      },
      {
        title: 'Consumer lag the processor autoscaler reads',
        source: 'operator',
        description:
          "flashsale_consumer_lag: the processor group's lag, read by the operator from the brokers, counted once (the KEDA trigger, the HPA external metric and FlashSaleConsumerLagHigh use it).",
        targets: [[`max(${O.saleConsumerLag}{namespace=~"$namespace", sale=~"$sale"})`, 'lag']],
      },
      {
        title: 'Operator leader (1: holds the Lease)',
        source: 'operator',
        description:
          'One replica must hold the Lease (FlashSaleOperatorNoLeader otherwise); a change of pod is a fail-over.',
        targets: [[`max by (namespace, pod, instance) (${O.leaderStatus}{name!=""})`, '{{pod}}{{instance}}']],
        mappings: [
          {
            type: 'value',
            options: { '0': { text: 'standby', color: 'blue' }, '1': { text: 'leader', color: 'green' } },
          },
        ],
      },
    ],
  ],
  [
    'Sale progress',
    [
      {
        title: 'Remaining per item',
        source: 'processor',
        targets: [[`min by (item_id) (${P.inventoryLevel}{${SEL}})`, '{{item_id}}']],
      },
      {
        title: 'Inventory drift per item (must be 0)',
        source: 'processor',
        targets: [[`max by (item_id) (${P.inventoryDrift}{${SEL}})`, '{{item_id}}']],
      },
      {
        title: 'Sold and remaining per item (operator)',
        source: 'operator',
        description: "From the operator's status metrics (read from Redis at each reconcile).",
        targets: [
          [`max by (item_id) (${O.saleSold}{namespace=~"$namespace", name=~"$sale"})`, 'sold {{item_id}}'],
          [`max by (item_id) (${O.saleRemaining}{namespace=~"$namespace", name=~"$sale"})`, 'remaining {{item_id}}'],
        ],
      },
      {
        title: 'Operator reconciles',
        source: 'operator',
        unit: 'ops',
        targets: [
          [`sum by (result) (rate(${O.reconcileTotal}{controller="flashsale"}[$__rate_interval]))`, '{{result}}'],
          [`sum(rate(${O.reconcileErrors}{controller="flashsale"}[$__rate_interval])) or vector(0)`, 'errors'],
        ],
      },
    ],
  ],
];

// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a JavaScript template
const DS = { type: 'prometheus', uid: '${datasource}' } as const;

export function buildDashboard(): Record<string, unknown> & { panels: Panel[] } {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const [row, specs] of ROWS) {
    panels.push({ id: id++, type: 'row', title: row, collapsed: false, gridPos: { x: 0, y, w: 24, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    for (const s of specs) {
      const w = s.w ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      panels.push({
        id: id++,
        type: s.type ?? 'timeseries',
        title: s.title,
        ...(s.description ? { description: s.description } : {}),
        gridPos: { x, y, w, h: 8 },
        datasource: DS,
        targets: s.targets.map(([expr, legendFormat], n) => ({
          expr,
          legendFormat,
          refId: String.fromCharCode(65 + n),
          ...(s.type === 'stat' ? { instant: true } : {}),
        })),
        fieldConfig: {
          defaults: { ...(s.unit ? { unit: s.unit } : {}), ...(s.mappings ? { mappings: s.mappings } : {}) },
          overrides: [],
        },
        options: s.type === 'stat' ? { reduceOptions: { calcs: ['lastNotNull'] }, textMode: 'value_and_name' } : {},
      });
      x += w;
    }
    y += 8;
  }
  return {
    uid: DASHBOARD_UID,
    title: 'Flash Sale Engine',
    tags: ['flash-sale'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    refresh: '10s',
    timezone: 'browser',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' },
        {
          name: 'namespace',
          type: 'query',
          datasource: DS,
          query: `label_values(${G.ordersReceived}, namespace)`,
          includeAll: true,
          multi: true,
          allValue: '.*',
          refresh: 2,
        },
        {
          name: 'sale',
          type: 'query',
          datasource: DS,
          query: `label_values(${G.ordersReceived}{namespace=~"$namespace"}, sale)`,
          includeAll: true,
          multi: true,
          allValue: '.*',
          refresh: 2,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

/** Every query of the dashboard with its panel and source, for the dashboard test. */
export function dashboardQueries(): { panel: string; source: Source; expr: string }[] {
  return ROWS.flatMap(([, specs]) =>
    specs.flatMap((s) => s.targets.map(([expr]) => ({ panel: s.title, source: s.source, expr }))),
  );
}
