/**
 * The FlashSale defaults follow the capacity model: the coefficients are read from docs/capacity.md (its table of
 * measured coefficients), the defaults from the zod schema, and the formulas of docs/capacity.md are checked between
 * them. When the model is re-measured and a default stops following it, this test names the default. The mapping is
 * written out in docs/operator.md, "Defaults and where they come from". The processor's own payment defaults are read
 * from the text of processor/src/config.ts (the operator may not import the processor).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDurationMs, parseFlashSaleSpec } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKLOAD_RESOURCES } from './buildDeployments.ts';

const doc = readFileSync(join(import.meta.dirname, '../../../docs/capacity.md'), 'utf8');
const processorConfig = readFileSync(join(import.meta.dirname, '../../../processor/src/config.ts'), 'utf8');

/** The default of one processor variable, as written in its zod schema (`NAME: int(256, ...)`, `.default(0.5)`, ...). */
function processorDefault(name: string): string {
  const line = processorConfig.split('\n').find((l) => l.trimStart().startsWith(`${name}:`));
  const m = line && (/\.default\(([^)]+)\)/.exec(line) ?? /\((['\d][^,)]*)[,)]/.exec(line));
  if (!m?.[1]) throw new Error(`processor/src/config.ts: no default found for ${name}`);
  return m[1].replace(/['_]/g, '');
}

/** The numbers in the value column of the coefficient table's row for `symbol`. */
function coefficient(symbol: string): number[] {
  const row = doc.split('\n').find((l) => l.startsWith(`| \`${symbol}\` |`));
  if (!row) throw new Error(`docs/capacity.md has no coefficient row for ${symbol}`);
  const value = row.split('|')[3] ?? '';
  const nums = [...value.matchAll(/\d[\d,]*(\.\d+)?/g)].map((m) => Number(m[0].replace(/,/g, '')));
  if (nums.length === 0) throw new Error(`docs/capacity.md: no number in the row of ${symbol}: ${row}`);
  return nums;
}
function fromText(re: RegExp, what: string): number[] {
  const m = re.exec(doc);
  if (!m) throw new Error(`docs/capacity.md does not state ${what} (${re})`);
  return m.slice(1).map(Number);
}

const spec = () => {
  const r = parseFlashSaleSpec({
    startsAt: '2026-11-28T08:00:00Z',
    endsAt: '2026-11-28T10:00:00Z',
    items: [{ id: 'a', quantity: 10 }],
  });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.spec;
};
const mib = (q: string) => {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
};

describe('defaults follow docs/capacity.md', () => {
  const gFull = coefficient('g_full');
  const gFullLow = Math.min(...gFull);
  const gFullHigh = Math.max(...gFull);
  const [p = 0] = coefficient('p');
  const [pPart = 0] = coefficient('p_part');
  const [u = 0] = fromText(/`u` = (0\.\d+)/, 'the planning utilisation u');
  const s = spec();
  const a = s.autoscaling;

  it('the gateway HPA: CPU target = u, requests/s per pod = u x g_full (the lowest measured, to scale out early)', () => {
    expect(a.gateway.targetCPUUtilization / 100).toBeCloseTo(u, 2);
    expect(a.gateway.targetRequestsPerSecond).toBeLessThanOrEqual(u * gFullLow);
    expect(a.gateway.targetRequestsPerSecond).toBeGreaterThanOrEqual(0.9 * u * gFullLow);
  });

  it('processor maximum: formula 3 for what the gateway maximum can admit (the highest measured g_full)', () => {
    const admitted = a.gateway.maxReplicas * u * gFullHigh; // O
    expect(a.processor.maxReplicas).toBe(Math.ceil(admitted / (p * u)));
    expect(s.processor.replicas).toBe(a.processor.minReplicas);
  });

  it('partitions: formula 4 (>= O / (p_part x u), 2-3x the processors) and an even spread over the processors', () => {
    const admitted = a.gateway.maxReplicas * u * gFullHigh;
    const n = s.topics.partitions;
    expect(n).toBeGreaterThanOrEqual(Math.ceil(admitted / (pPart * u)));
    expect(n).toBeGreaterThanOrEqual(2 * a.processor.maxReplicas);
    expect(n).toBeLessThanOrEqual(3 * a.processor.maxReplicas);
    expect(n % a.processor.maxReplicas).toBe(0);
  });

  it('the processor HPA adds a pod within a second of one partition: lag target <= p_part x u, below the lag alert', () => {
    expect(a.processor.targetLagPerReplica).toBeLessThanOrEqual(pPart * u);
    expect(a.processor.targetLagPerReplica).toBeLessThan(s.monitoring.alerts.consumerLag);
  });

  it('payment slots: p_lat = PAYMENT_CONCURRENCY / L >= p at the default latency (formula 3), as the p_lat row says', () => {
    const concurrency = Number(processorDefault('PAYMENT_CONCURRENCY'));
    const timeoutShare = Number(processorDefault('PAYMENT_TIMEOUT_SHARE'));
    const timeoutS = parseDurationMs(processorDefault('PAYMENT_TIMEOUT')) / 1000;
    const pay = s.processor.payment;
    const meanS = (parseDurationMs(pay.minLatency) + parseDurationMs(pay.maxLatency)) / 2 / 1000;
    const hang = pay.failureRate * timeoutShare; // share of payments that hold a slot until PAYMENT_TIMEOUT
    const pLat = concurrency / meanS;
    const pLatHanging = concurrency / ((1 - hang) * meanS + hang * timeoutS);
    expect(coefficient('p_lat')[0]).toBe(Math.round(pLat));
    expect(pLatHanging).toBeGreaterThanOrEqual(p); // so p_eff = min(p, p_lat) = p, the p used above
  });

  it('pod memory: the request is above the measured peak RSS of one process; K = 1 by default', () => {
    const [, peakMb = 0] = fromText(/peak RSS (\d+)-(\d+) MB/, 'the peak RSS per process');
    const peakMib = (peakMb * 1e6) / 2 ** 20;
    expect(mib(DEFAULT_WORKLOAD_RESOURCES.requests.memory)).toBeGreaterThan(peakMib);
    expect(mib(DEFAULT_WORKLOAD_RESOURCES.limits.memory)).toBeGreaterThan(
      mib(DEFAULT_WORKLOAD_RESOURCES.requests.memory),
    );
    expect(s.items[0]?.stockBuckets).toBe(1);
  });
});
