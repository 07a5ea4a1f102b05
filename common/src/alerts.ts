/**
 * THE one source of the alert rules (the runbook's seven alerts plus consumer lag, gateway 5xx, inventory drift and the
 * operator's own). The operator's per-sale PrometheusRule, the chart's PrometheusRule for the operator and the rule
 * files under `monitoring/` (checked by `promtool test rules`) are all built from these functions; nothing else spells
 * an alert expression. Metric names come from `metrics.ts`.
 *
 * Series of a sale are told apart by two labels: `namespace` (added by every Prometheus Operator scrape) and
 * `SALE_METRIC_LABEL` (`sale`), which the sale's ServiceMonitor relabeling (or a static scrape config) sets on its
 * targets. The consumer lag is the operator's `flashsale_consumer_lag{namespace,sale}` (sale-queries.ts), the same
 * number the processor's autoscaler reads.
 */
import { BUSINESS_OUTCOME_DLQ_REASONS } from './dlq.ts';
import { API_ERRORS, type ApiErrorCode } from './errors.ts';
import { type AlertThresholds, alertThresholdsSchema } from './flashsale-spec.ts';
import { CIRCUIT_STATE_VALUE, GATEWAY_METRICS as G, OPERATOR_METRICS as O, PROCESSOR_METRICS as P } from './metrics.ts';
import { consumerLagQuery, SALE_METRIC_LABEL, saleMatchers } from './sale-queries.ts';

/**
 * The refusals that are system failures (5xx: the broker or a dependency unavailable, a bug). SOLD_OUT,
 * LIMIT_EXCEEDED, RATE_LIMITED, SALE_ENDED and the other 4xx are the sale working as designed: counting them made
 * FlashSaleHighFailureRate page after every sell-out.
 */
export const SYSTEM_FAILURE_REASONS = (Object.keys(API_ERRORS) as ApiErrorCode[]).filter((c) => API_ERRORS[c] >= 500);
/** Where `runbook_url` points unless the caller gives an absolute base (e.g. the repository's web URL). */
export const DEFAULT_RUNBOOK_URL = 'docs/runbook.md';

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'critical' | 'warning' | 'info' } & Record<string, string>;
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: AlertRule[];
}

/**
 * Thresholds of the per-sale alerts: a FlashSale's `spec.monitoring.alerts`, whose fields, ranges and runbook
 * defaults are defined once, in its schema (`alertThresholdsSchema`, flashsale-spec.ts): dlqSize (dead letters that
 * need action), dlqAgeSeconds (age of the oldest), failureRate (system failures / received, 0..1),
 * processingP99Seconds, inventoryLow (units left of an item), consumerLag (messages), gateway5xxRate (0..1); plus the
 * rate-limit alert's, which a sale does not tune.
 */
export interface SaleAlertThresholds extends AlertThresholds {
  /** rate-limit refusals per second above this, and rising */
  rateLimitedPerSecond: number;
}

export const DEFAULT_SALE_ALERT_THRESHOLDS: Readonly<SaleAlertThresholds> = Object.freeze({
  ...alertThresholdsSchema.parse(undefined),
  rateLimitedPerSecond: 1,
});

export interface SaleAlertOptions {
  /** the FlashSale's name (value of the `sale` label) */
  sale: string;
  /** the FlashSale's namespace; when given, series are also filtered by `namespace` */
  namespace?: string | undefined;
  /** any subset of the thresholds; the rest are the runbook's defaults */
  thresholds?: Partial<SaleAlertThresholds> | undefined;
  /** base of runbook_url (default `docs/runbook.md`); an anchor per alert is appended */
  runbookUrl?: string | undefined;
}

export interface OperatorAlertOptions {
  /** extra PromQL label matchers for the operator's series, e.g. `namespace="flash-sale-system"` */
  selector?: string;
  /** the controller label value the operator reports (controller-runtime convention) */
  controller?: string;
  /** reconcile errors per second above this (for 15 minutes) */
  reconcileErrorsPerSecond?: number;
  runbookUrl?: string;
}

/** Anchors in docs/runbook.md, one per alert (a test checks every one exists there). */
export const RUNBOOK_ANCHORS = {
  FlashSaleCircuitBreakerOpen: 'flashsalecircuitbreakeropen',
  FlashSaleDLQSizeHigh: 'flashsaledlqsizehigh',
  FlashSaleDLQMessageTooOld: 'flashsaledlqmessagetooold',
  FlashSaleHighFailureRate: 'flashsalehighfailurerate',
  FlashSaleProcessingSlow: 'flashsaleprocessingslow',
  FlashSaleRateLimitRejectionsRising: 'flashsaleratelimitrejectionsrising',
  FlashSaleInventoryLow: 'flashsaleinventorylow',
  FlashSaleConsumerLagHigh: 'flashsaleconsumerlaghigh',
  FlashSaleGateway5xxRateHigh: 'flashsalegateway5xxratehigh',
  FlashSaleInventoryDrift: 'flashsaleinventorydrift',
  FlashSaleOrdersStuck: 'flashsaleordersstuck',
  FlashSaleOperatorReconcileErrors: 'flashsaleoperatorreconcileerrors',
  FlashSaleOperatorNoLeader: 'flashsaleoperatornoleader',
} as const;
export type AlertName = keyof typeof RUNBOOK_ANCHORS;

/** PromQL string literal (double-quoted, escaped). */
function q(v: string): string {
  return JSON.stringify(v);
}

function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`alert threshold must be a finite number, got ${n}`);
  return String(n);
}

function pct(share: number): string {
  return `${Math.round(share * 10000) / 100}%`;
}

function runbook(base: string, name: AlertName): string {
  return `${base}#${RUNBOOK_ANCHORS[name]}`;
}

/** The rule group of one sale: every expression is filtered to the sale's series. */
export function saleAlertGroups(opts: SaleAlertOptions): RuleGroup[] {
  const t: SaleAlertThresholds = { ...DEFAULT_SALE_ALERT_THRESHOLDS, ...dropUndefined(opts.thresholds ?? {}) };
  const base = opts.runbookUrl ?? DEFAULT_RUNBOOK_URL;
  const sel = saleMatchers(opts.sale, opts.namespace);
  // the dead letters someone must act on: every reason but the business outcomes (payment declined or unanswered)
  const actionable = `${sel},reason!~${q(BUSINESS_OUTCOME_DLQ_REASONS.join('|'))}`;
  const systemFailed = `${sel},reason=~${q(SYSTEM_FAILURE_REASONS.join('|'))}`;
  const by = `namespace, ${SALE_METRIC_LABEL}`;
  const who = opts.namespace ? `${opts.namespace}/${opts.sale}` : opts.sale;
  const rl = `sum by (${by}) (rate(${G.rateLimited}{${sel}}[5m]))`;
  const rlBefore = `sum by (${by}) (rate(${G.rateLimited}{${sel}}[5m] offset 15m))`;

  const rules: AlertRule[] = [
    {
      alert: 'FlashSaleCircuitBreakerOpen',
      expr: `max by (${by}, pod) (${G.circuitBreakerState}{${sel}}) == ${CIRCUIT_STATE_VALUE.open}`,
      for: '1m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `Gateway circuit breaker open for sale ${who}`,
        description:
          'The Kafka circuit breaker of gateway pod {{ $labels.pod }} has been open for more than 1 minute: orders are refused with 503. Check Kafka connectivity.',
        runbook_url: runbook(base, 'FlashSaleCircuitBreakerOpen'),
      },
    },
    {
      alert: 'FlashSaleDLQSizeHigh',
      // one value per reason (every processor reports the same DLQ), summed over the reasons that need someone
      expr: `sum by (${by}) (max by (${by}, reason) (${P.dlqSize}{${actionable}})) > ${num(t.dlqSize)}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Dead-letter queue of sale ${who} holds more than ${num(t.dlqSize)} orders that need action`,
        description: `{{ $value }} dead letters wait for someone (threshold ${num(t.dlqSize)}; payment declines and timeouts are not counted): orders are not being processed. Find the failure reason in the DLQ headers, fix it, then redrive.`,
        runbook_url: runbook(base, 'FlashSaleDLQSizeHigh'),
      },
    },
    {
      alert: 'FlashSaleDLQMessageTooOld',
      expr: `max by (${by}) (${P.dlqOldestAge}{${actionable}}) > ${num(t.dlqAgeSeconds)}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Oldest DLQ message of sale ${who} is older than ${num(t.dlqAgeSeconds)} s`,
        description: `The oldest dead letter that needs action has waited {{ $value | humanizeDuration }} (threshold ${num(t.dlqAgeSeconds)} s; payment declines and timeouts are not counted). Redrive or discard the oldest messages first.`,
        runbook_url: runbook(base, 'FlashSaleDLQMessageTooOld'),
      },
    },
    {
      alert: 'FlashSaleHighFailureRate',
      expr: `sum by (${by}) (rate(${G.ordersFailed}{${systemFailed}}[5m])) / sum by (${by}) (rate(${G.ordersReceived}{${sel}}[5m])) > ${num(t.failureRate)}`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `More than ${pct(t.failureRate)} of the orders of sale ${who} fail`,
        description: `{{ $value | humanizePercentage }} of the orders received by the gateway failed with a system error (${SYSTEM_FAILURE_REASONS.join(', ')}) over the last 5 minutes (threshold ${pct(t.failureRate)}); refusals such as SOLD_OUT or RATE_LIMITED are not failures. Check service health and the gateway logs (reason label of ${G.ordersFailed}).`,
        runbook_url: runbook(base, 'FlashSaleHighFailureRate'),
      },
    },
    {
      alert: 'FlashSaleProcessingSlow',
      expr: `histogram_quantile(0.99, sum by (${by}, le) (rate(${P.processingDuration}_bucket{${sel}}[5m]))) > ${num(t.processingP99Seconds)}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Order processing p99 of sale ${who} is above ${num(t.processingP99Seconds)} s`,
        description: `The 99th percentile of order processing time is {{ $value | humanizeDuration }} (threshold ${num(t.processingP99Seconds)} s). Check Redis and Kafka latency; scale the processor up to the partition count.`,
        runbook_url: runbook(base, 'FlashSaleProcessingSlow'),
      },
    },
    {
      alert: 'FlashSaleRateLimitRejectionsRising',
      expr: `(${rl} > ${num(t.rateLimitedPerSecond)}) and ((${rl} > 1.5 * ${rlBefore}) or (${rl} unless ${rlBefore}))`,
      for: '10m',
      labels: { severity: 'info' },
      annotations: {
        summary: `Rate-limit rejections of sale ${who} are rising`,
        description: `The gateway refuses {{ $value | humanize }} requests/s with 429, more than ${num(t.rateLimitedPerSecond)}/s and more than 1.5 times the rate of 15 minutes before. Check whether legitimate users are blocked; review gateway.rateLimit.`,
        runbook_url: runbook(base, 'FlashSaleRateLimitRejectionsRising'),
      },
    },
    {
      alert: 'FlashSaleInventoryLow',
      // a sold-out item (0 left) is the sale's phase SoldOut, not an alert: only 1..threshold-1 units left fire
      expr: `min by (${by}, item_id) (${P.inventoryLevel}{${sel}}) < ${num(t.inventoryLow)} > 0`,
      for: '1m',
      labels: { severity: 'info' },
      annotations: {
        summary: `Item {{ $labels.item_id }} of sale ${who} has fewer than ${num(t.inventoryLow)} units left`,
        description: `{{ $value }} units of item {{ $labels.item_id }} remain (threshold ${num(t.inventoryLow)}; a sold-out item does not fire). Restock (raise the quantity in the FlashSale) or prepare for sold out.`,
        runbook_url: runbook(base, 'FlashSaleInventoryLow'),
      },
    },
    {
      alert: 'FlashSaleConsumerLagHigh',
      expr: `${consumerLagQuery(sel, by)} > ${num(t.consumerLag)}`,
      for: '5m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Processor of sale ${who} lags more than ${num(t.consumerLag)} orders behind`,
        description: `{{ $value }} orders of the orders topic are not yet processed (threshold ${num(t.consumerLag)}; the processor group's lag as the operator reads it from the brokers). Check that the processor runs and scales (up to the partition count).`,
        runbook_url: runbook(base, 'FlashSaleConsumerLagHigh'),
      },
    },
    {
      alert: 'FlashSaleGateway5xxRateHigh',
      expr: `sum by (${by}) (rate(${G.httpRequests}{${sel},status_code=~"5.."}[5m])) / sum by (${by}) (rate(${G.httpRequests}{${sel}}[5m])) > ${num(t.gateway5xxRate)}`,
      for: '5m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `More than ${pct(t.gateway5xxRate)} of the gateway responses of sale ${who} are 5xx`,
        description: `{{ $value | humanizePercentage }} of the HTTP responses over the last 5 minutes were server errors (threshold ${pct(t.gateway5xxRate)}). Check the circuit breaker, Redis and Kafka health.`,
        runbook_url: runbook(base, 'FlashSaleGateway5xxRateHigh'),
      },
    },
    {
      alert: 'FlashSaleInventoryDrift',
      expr: `max by (${by}, item_id) (abs(${P.inventoryDrift}{${sel}})) != 0`,
      for: '2m',
      labels: { severity: 'critical' },
      annotations: {
        summary: `Inventory of item {{ $labels.item_id }} of sale ${who} does not add up`,
        description:
          'initial - remaining - confirmed - held is {{ $value }} units off for item {{ $labels.item_id }} (must be 0): units were lost or oversold. Pause the sale and audit before restocking.',
        runbook_url: runbook(base, 'FlashSaleInventoryDrift'),
      },
    },
    {
      alert: 'FlashSaleOrdersStuck',
      // any accepted order found QUEUED past STUCK_ORDER_AFTER (processor/src/stuck-orders.ts), whatever was done
      expr: `sum by (${by}, action) (increase(${P.ordersStuck}{${sel}}[15m])) > 0`,
      for: '0m',
      labels: { severity: 'warning' },
      annotations: {
        summary: `Accepted orders of sale ${who} were stuck in QUEUED (action {{ $labels.action }})`,
        description:
          'Orders answered 202 stayed QUEUED past STUCK_ORDER_AFTER: their Kafka messages never reached a processor. "republished": the processor sent them again; "finalized": they ended REJECTED, reason not_processed, and their buyers got no unit. Find where the messages went (broker, topic, a bug) before more are lost.',
        runbook_url: runbook(base, 'FlashSaleOrdersStuck'),
      },
    },
  ];
  return [{ name: `flashsale.${opts.namespace ? `${opts.namespace}.` : ''}${opts.sale}`, rules }];
}

/** The operator's own rule group (shipped by the chart when the Prometheus Operator is installed). */
export function operatorAlertGroups(opts: OperatorAlertOptions = {}): RuleGroup[] {
  const base = opts.runbookUrl ?? DEFAULT_RUNBOOK_URL;
  const controller = opts.controller ?? 'flashsale';
  const sel = [`controller=${q(controller)}`, ...(opts.selector ? [opts.selector] : [])].join(',');
  const leaderSel = opts.selector ?? '';
  const errs = opts.reconcileErrorsPerSecond ?? 0;
  return [
    {
      name: 'flashsale-operator',
      rules: [
        {
          alert: 'FlashSaleOperatorReconcileErrors',
          expr: `sum by (namespace, controller) (rate(${O.reconcileErrors}{${sel}}[5m])) > ${num(errs)}`,
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'The FlashSale operator keeps failing to reconcile',
            description:
              'Reconciles of controller {{ $labels.controller }} have been failing for 15 minutes ({{ $value | humanize }} errors/s). Look at the FlashSale conditions and the operator events and logs.',
            runbook_url: runbook(base, 'FlashSaleOperatorReconcileErrors'),
          },
        },
        {
          alert: 'FlashSaleOperatorNoLeader',
          expr: `max by (namespace) (${O.leaderStatus}{${leaderSel}}) < 1 or absent(${O.leaderStatus}{${leaderSel}})`,
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: 'No FlashSale operator replica holds the leader lease',
            description:
              'For 5 minutes no operator replica has reported itself leader: no sale is reconciled (no scaling, no status, no restock). Check the operator pods and the Lease.',
            runbook_url: runbook(base, 'FlashSaleOperatorNoLeader'),
          },
        },
      ],
    },
  ];
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
