/**
 * `flashsale status`: sale progress from Redis (the inventory audit: sold, remaining, held per item) and from the
 * services' /metrics (orders received and accepted by the gateway, processed and DLQ size from the processor, consumer
 * lag), with rates from the difference between two refreshes. Redrawn live on a terminal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  auditItemsOverBuckets,
  GATEWAY_METRICS,
  type ItemAudit,
  listItems,
  PROCESSOR_METRICS,
  type RedisClient,
} from '@flashsale/common';
import { CliError, EXIT, type OutputFormat } from './exit.ts';
import { checkRedis, connect, type LoadTarget, sessionSecurity } from './load/load.ts';
import { fmt } from './load/progress.ts';
import { readSession } from './session.ts';

export interface StatusOptions {
  sale?: string | undefined;
  redis?: string | undefined;
  redisMode?: 'single' | 'cluster' | undefined;
  gatewayMetrics?: string | undefined;
  processorMetrics?: string[] | undefined;
  watch: boolean;
  intervalMs: number;
  /** stop watching after this many refreshes (0: until interrupted) */
  count: number;
  output: OutputFormat;
  /** CA files and password files (credentials come from the environment: docs/cli.md) */
  security?: LoadTarget['security'];
}

export interface StatusSnapshot {
  sale: string;
  at: string;
  items: { id: string; initial: number; sold: number; held: number; remaining: number; drift: number }[];
  /** refunded: units of orders paid after their hold expired and refunded (back in stock, never sold) */
  totals: { initial: number; sold: number; held: number; remaining: number; drift: number; refunded: number };
  gateway: { up: boolean; received: number; accepted: number; rateLimited: number } | null;
  /** refunds: payments the processors refunded (processor_refunds_total, summed over the replicas) */
  processor: { up: number; processed: number; dlq: number; lag: number; refunds: number } | null;
  rates: { receivedPerSec: number; soldPerSec: number; processedPerSec: number } | null;
}

/** Sum of every sample of `name` (all label sets) in Prometheus text; NaN when absent. */
export function metricSum(text: string, name: string): number {
  let sum = Number.NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
}

async function scrape(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

const num = (v: number) => (Number.isNaN(v) ? 0 : v);

export async function snapshot(
  r: RedisClient,
  sale: string,
  gatewayMetrics: string | undefined,
  processorMetrics: string[],
): Promise<StatusSnapshot> {
  const [audit, gw, ...procs] = await Promise.all([
    listItems(r, sale).then((ids) => auditItemsOverBuckets(r, sale, ids)),
    gatewayMetrics ? scrape(gatewayMetrics) : Promise.resolve(null),
    ...processorMetrics.map(scrape),
  ]);
  const audits = audit as ItemAudit[];
  const items = audits.map((a) => ({
    id: a.itemId,
    initial: a.initial,
    sold: a.confirmed,
    held: a.held,
    remaining: a.remaining,
    drift: a.drift,
  }));
  const totals = items.reduce(
    (t, i) => ({
      initial: t.initial + i.initial,
      sold: t.sold + i.sold,
      held: t.held + i.held,
      remaining: t.remaining + i.remaining,
      drift: t.drift + Math.abs(i.drift),
      refunded: t.refunded,
    }),
    { initial: 0, sold: 0, held: 0, remaining: 0, drift: 0, refunded: audits.reduce((n, a) => n + a.refunded, 0) },
  );
  const up = procs.filter((p): p is string => p !== null);
  return {
    sale,
    at: new Date().toISOString(),
    items,
    totals,
    gateway:
      gatewayMetrics === undefined
        ? null
        : {
            up: gw !== null,
            received: num(metricSum(gw ?? '', GATEWAY_METRICS.ordersReceived)),
            accepted: num(metricSum(gw ?? '', GATEWAY_METRICS.ordersSuccessful)),
            rateLimited: num(metricSum(gw ?? '', GATEWAY_METRICS.rateLimited)),
          },
    processor:
      processorMetrics.length === 0
        ? null
        : {
            up: up.length,
            processed: up.reduce((n, t) => n + num(metricSum(t, PROCESSOR_METRICS.ordersProcessed)), 0),
            // the DLQ gauge is computed from topic offsets by every replica: the same number, take the largest
            dlq: Math.max(0, ...up.map((t) => num(metricSum(t, PROCESSOR_METRICS.dlqSize)))),
            lag: Math.max(0, ...up.map((t) => num(metricSum(t, PROCESSOR_METRICS.consumerLag)))),
            refunds: up.reduce((n, t) => n + num(metricSum(t, PROCESSOR_METRICS.refunds)), 0),
          },
    rates: null,
  };
}

export function withRates(now: StatusSnapshot, prev: StatusSnapshot | undefined): StatusSnapshot {
  if (!prev) return now;
  const dt = Math.max(0.001, (Date.parse(now.at) - Date.parse(prev.at)) / 1000);
  return {
    ...now,
    rates: {
      receivedPerSec: ((now.gateway?.received ?? 0) - (prev.gateway?.received ?? 0)) / dt,
      soldPerSec: (now.totals.sold - prev.totals.sold) / dt,
      processedPerSec: ((now.processor?.processed ?? 0) - (prev.processor?.processed ?? 0)) / dt,
    },
  };
}

export function renderStatus(s: StatusSnapshot): string {
  const w = Math.max(8, ...s.items.map((i) => i.id.length));
  const bar = (sold: number, initial: number) => {
    const n = initial > 0 ? Math.round((sold / initial) * 20) : 0;
    return `${'#'.repeat(n)}${'.'.repeat(20 - n)}`;
  };
  const lines = [
    `sale ${s.sale}   ${s.at}`,
    `  ${'item'.padEnd(w)}  ${'sold'.padStart(9)}  ${'held'.padStart(7)}  ${'remaining'.padStart(9)}  ${'of'.padStart(9)}`,
    ...s.items.map(
      (i) =>
        `  ${i.id.padEnd(w)}  ${fmt(i.sold).padStart(9)}  ${fmt(i.held).padStart(7)}  ${fmt(i.remaining).padStart(9)}  ${fmt(i.initial).padStart(9)}  ${bar(i.sold + i.held, i.initial)}${i.drift !== 0 ? `  DRIFT ${i.drift}` : ''}`,
    ),
    `  ${'total'.padEnd(w)}  ${fmt(s.totals.sold).padStart(9)}  ${fmt(s.totals.held).padStart(7)}  ${fmt(s.totals.remaining).padStart(9)}  ${fmt(s.totals.initial).padStart(9)}  ${bar(s.totals.sold + s.totals.held, s.totals.initial)}`,
  ];
  if (s.totals.refunded > 0) {
    lines.push(`  refunded  ${fmt(s.totals.refunded)} unit(s) paid after their hold expired: back in stock, not sold`);
  }
  if (s.gateway) {
    lines.push(
      `  gateway   ${s.gateway.up ? 'up' : 'DOWN'}  received ${fmt(s.gateway.received)}  accepted ${fmt(s.gateway.accepted)}  rate limited ${fmt(s.gateway.rateLimited)}`,
    );
  }
  if (s.processor) {
    lines.push(
      `  processor ${s.processor.up} up  processed ${fmt(s.processor.processed)}  refunded ${fmt(s.processor.refunds)}  DLQ ${fmt(s.processor.dlq)}  lag ${fmt(s.processor.lag)}`,
    );
  }
  if (s.rates) {
    lines.push(
      `  rates     ${fmt(s.rates.receivedPerSec)} received/s  ${fmt(s.rates.processedPerSec)} processed/s  ${fmt(s.rates.soldPerSec)} sold/s`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function runStatus(o: StatusOptions): Promise<number> {
  const session = await readSession(o.sale);
  const sale = o.sale ?? session?.sale;
  const redisAddr = o.redis ?? session?.redis;
  if (!sale || !redisAddr) {
    throw new CliError('no sale: pass --sale and --redis, or start one with `flashsale up`', EXIT.usage);
  }
  const gatewayMetrics = o.gatewayMetrics ?? session?.gatewayMetricsUrl;
  const processorMetrics = o.processorMetrics ?? session?.processorMetricsUrls ?? [];
  const r = connect(redisAddr, o.redisMode ?? session?.redisMode ?? 'single', sessionSecurity(o.security, session));
  await checkRedis(r, redisAddr);
  const tty = Boolean(process.stdout.isTTY) && o.output === 'text';
  let stop = false;
  const onSig = () => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    let prev: StatusSnapshot | undefined;
    for (let n = 1; ; n++) {
      const s = withRates(await snapshot(r, sale, gatewayMetrics, processorMetrics), prev);
      if (s.items.length === 0) throw new CliError(`sale ${sale} has no seeded items in Redis at ${redisAddr}`);
      prev = s;
      if (o.output === 'json') process.stdout.write(`${JSON.stringify(s)}\n`);
      else process.stdout.write(`${tty && o.watch ? '\x1b[H\x1b[2J' : ''}${renderStatus(s)}`);
      if (!o.watch || stop || (o.count > 0 && n >= o.count)) break;
      await sleep(o.intervalMs);
      if (stop) break;
    }
    return EXIT.ok;
  } finally {
    process.removeListener('SIGINT', onSig);
    r.disconnect();
  }
}
