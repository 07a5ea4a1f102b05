/** The final report of a load run: one object (printed as JSON with --output json) and a table for people. */
import type { ApiErrorCode } from '@flashsale/common';
import type { LoadOptions } from './options.ts';
import { fmt } from './progress.ts';
import type { LoadRecord } from './run-load.ts';
import type { Verification } from './verify.ts';

export interface LoadReport {
  sale: string;
  runId: string;
  startedAt: string;
  options: Omit<LoadOptions, 'items'> & { items: string[] };
  planned: number;
  attempts: number;
  byStatusCode: Record<string, number>;
  byErrorCode: Record<string, number>;
  accepted: number;
  /** duplicates answered from the idempotency record (Idempotent-Replayed: true) */
  duplicatesReplayed: number;
  transportErrors: number;
  /** accepted orders that ended CONFIRMED (from their Redis records) */
  confirmed: number;
  /** answers SOLD_OUT at the gateway plus accepted orders that ended SOLD_OUT */
  soldOut: number;
  /** answers 429 RATE_LIMITED or LIMIT_EXCEEDED plus accepted orders that ended LIMIT_EXCEEDED */
  limited: number;
  /** messages in the sale's DLQ topic */
  dlq: number | null;
  latencyMs: LoadRecord['latencyMs'];
  offeredRate: number;
  achievedRate: number;
  burstMs: number;
  /** ms from the first order sent until every item's remaining stock was 0 (null: never sold out) */
  soldOutAfterMs: number | null;
  /** ms the offered load takes to deliver as many orders as there are units */
  offeredMsForStock: number;
  sse: LoadRecord['sse'];
  /** the generator's own cost: threads and CPU of its process per request (not the gateway's) */
  generator: LoadRecord['generator'];
  verification: Verification;
  oversold: number;
  lost: number;
  ok: boolean;
}

const code = (r: Record<string, number>, c: ApiErrorCode) => r[c] ?? 0;

export function buildReport(
  sale: string,
  o: LoadOptions,
  items: string[],
  rec: LoadRecord,
  v: Verification,
  soldOutAt: number | undefined,
): LoadReport {
  const oversold = v.oversold + v.drift;
  const lost = v.lost;
  const unitsPerOrder = Math.max(1, o.quantity);
  return {
    sale,
    runId: rec.runId,
    startedAt: rec.startedAt,
    options: { ...o, items },
    planned: rec.planned,
    attempts: rec.attempts,
    byStatusCode: rec.byStatusCode,
    byErrorCode: rec.byErrorCode,
    accepted: rec.accepted,
    duplicatesReplayed: rec.replayed,
    transportErrors: rec.transportErrors,
    confirmed: v.finalStatuses.CONFIRMED ?? 0,
    soldOut: code(rec.byErrorCode, 'SOLD_OUT') + (v.finalStatuses.SOLD_OUT ?? 0),
    limited:
      code(rec.byErrorCode, 'RATE_LIMITED') +
      code(rec.byErrorCode, 'LIMIT_EXCEEDED') +
      (v.finalStatuses.LIMIT_EXCEEDED ?? 0),
    dlq: v.stream ? v.stream.dlqMessages : null,
    latencyMs: rec.latencyMs,
    offeredRate: rec.offeredRate,
    achievedRate: rec.achievedRate,
    burstMs: rec.durationMs,
    soldOutAfterMs: soldOutAt === undefined ? null : Math.max(0, soldOutAt - rec.firstSentAt),
    offeredMsForStock: rec.offeredRate > 0 ? (v.units.initial / unitsPerOrder / rec.offeredRate) * 1000 : 0,
    sse: rec.sse,
    generator: rec.generator,
    verification: v,
    oversold,
    lost,
    ok: oversold === 0 && lost === 0,
  };
}

function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => (k === '' ? '' : `  ${k.padEnd(w)}  ${v}`)).join('\n');
}

const pct = (a: number, b: number) => (b > 0 ? ` (${((a / b) * 100).toFixed(1)} %)` : '');
const kv = (r: Record<string, number>) =>
  Object.entries(r)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(', ') || '-';

export function renderReport(r: LoadReport): string {
  const v = r.verification;
  const l = r.latencyMs;
  const secs = (ms: number | null) => (ms === null ? 'never' : `${(ms / 1000).toFixed(2)} s`);
  const rows: [string, string][] = [
    ['attempts', `${fmt(r.attempts)} of ${fmt(r.planned)} planned, ${fmt(r.options.users)} users`],
    ['answers by status', kv(r.byStatusCode)],
    ['answers by code', kv(r.byErrorCode)],
    ['accepted (202)', `${fmt(r.accepted)}${pct(r.accepted, r.attempts)}`],
    ['confirmed', fmt(r.confirmed)],
    ['sold out', fmt(r.soldOut)],
    ['limited', fmt(r.limited)],
    ['duplicates replayed', fmt(r.duplicatesReplayed)],
    ['DLQ messages', r.dlq === null ? 'not read (no --kafka)' : fmt(r.dlq)],
    ['transport errors', fmt(r.transportErrors)],
    ['latency ms', `p50 ${fmt(l.p50, 1)}  p95 ${fmt(l.p95, 1)}  p99 ${fmt(l.p99, 1)}  max ${fmt(l.max, 1)}`],
    ['offered rate', `${fmt(r.offeredRate)} req/s`],
    ['achieved rate', `${fmt(r.achievedRate)} req/s over ${secs(r.burstMs)}`],
    [
      'sold out after',
      `${secs(r.soldOutAfterMs)} from the first order (offered load delivers the stock in ${secs(r.offeredMsForStock)})`,
    ],
    ['SSE followers', `${fmt(r.sse.reachedFinal)}/${fmt(r.sse.followed)} saw a final status`],
    [
      'load generator',
      `${r.generator.workers} thread(s), ${fmt(r.generator.cpuMsPerRequest * 1000)} µs CPU per request (${fmt(r.generator.cpuMs)} ms in all)`,
    ],
    ['', ''],
    ['final statuses', kv(v.finalStatuses)],
    [
      'units (Redis audit)',
      `initial ${fmt(v.units.initial)}, confirmed ${fmt(v.units.confirmed)}, held ${fmt(v.units.held)}, remaining ${fmt(v.units.remaining)}, released ${fmt(v.units.released)}, expired ${fmt(v.units.expired)} (refunded ${fmt(v.units.refunded)})`,
    ],
    [
      'order stream',
      v.stream
        ? `${fmt(v.stream.ordersInTopic)} orders in the topic, ${fmt(v.stream.acceptedMissingFromTopic)} accepted missing`
        : 'not read',
    ],
    ['oversold units', `${fmt(r.oversold)}${r.oversold === 0 ? '  ok' : '  FAIL'}`],
    [
      'lost orders',
      `${fmt(r.lost)}${r.lost === 0 ? '  ok' : `  FAIL (pending ${v.pending}, missing ${v.missing})`} after ${secs(v.settleMs)} settle`,
    ],
  ];
  return `Flash sale ${r.sale}, run ${r.runId}\n${table(rows)}\n${r.ok ? 'PASS: 0 oversold, 0 lost' : 'FAIL'}\n`;
}
