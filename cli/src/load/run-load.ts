/**
 * Plans the crowd and drives it at a gateway over HTTP, in this thread or split over worker threads (`--workers`:
 * a generator on the gateway's cores gets one scheduler share per thread), and merges what each driver recorded.
 */
import { randomUUID } from 'node:crypto';
import { FINAL_STATUSES } from '@flashsale/common';
import type { Arrival } from './crowd.ts';
import { planCrowd } from './crowd.ts';
import { driveCrowd, type ShardProgress, type ShardRecord } from './drive-crowd.ts';
import type { LoadOptions } from './options.ts';
import { increment, Samples } from './stats.ts';
import { type ShardInput, WorkerShard } from './worker-shard.ts';

export interface LoadProgress {
  sent: number;
  planned: number;
  accepted: number;
  elapsedMs: number;
}

export interface LoadRecord {
  runId: string;
  startedAt: string;
  /** epoch ms of the first request sent */
  firstSentAt: number;
  durationMs: number;
  planned: number;
  attempts: number;
  byStatusCode: Record<string, number>;
  byErrorCode: Record<string, number>;
  /** distinct orders answered 202 (first answer, not replays) */
  accepted: number;
  /** answers with Idempotent-Replayed: true */
  replayed: number;
  /** transport errors (connection refused, reset, timeout) */
  transportErrors: number;
  latencyMs: ReturnType<Samples['summary']>;
  offeredRate: number;
  achievedRate: number;
  sse: { followed: number; reachedFinal: number; finalStatuses: Record<string, number> };
  /** what the generator itself cost: threads driving the crowd, CPU of this process during the burst */
  generator: { workers: number; cpuMs: number; cpuMsPerRequest: number };
  /** order ids answered 202, keyed to the item */
  acceptedOrders: Map<string, string>;
}

interface Deps {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
}

/** Arrival i goes to shard i mod n (each shard stays sorted by time); connections split as evenly as they go. */
export function splitCrowd(
  crowd: Arrival[],
  connections: number,
  n: number,
): { crowd: Arrival[]; connections: number }[] {
  const shards = Array.from({ length: n }, (_, i) => ({
    crowd: [] as Arrival[],
    connections: Math.floor(connections / n) + (i < connections % n ? 1 : 0),
  }));
  for (const [i, a] of crowd.entries()) shards[i % n]?.crowd.push(a);
  return shards;
}

export async function runLoad(
  o: LoadOptions,
  items: string[],
  deps: Deps = {},
  weights?: number[],
): Promise<LoadRecord> {
  const runId = randomUUID().slice(0, 8);
  const crowd = planCrowd(o, items, runId, weights);
  const planned = crowd.reduce((n, a) => n + a.attempts.length, 0);
  const workers = Math.max(1, Math.min(o.workers, o.concurrency, crowd.length));
  const parts = splitCrowd(crowd, o.concurrency, workers).map((part, i) => ({
    o,
    crowd: part.crowd,
    correlationPrefix: workers > 1 ? `${runId}-${i}` : runId,
    connections: part.connections,
    finalStatuses: [...FINAL_STATUSES],
  }));
  const progress = new Map<number, ShardProgress>();
  const shards =
    workers > 1 ? parts.map((part, i) => new WorkerShard(part, (p) => progress.set(i, p))) : ([] as WorkerShard[]);
  try {
    // every shard counts arrival times from the same start, once all threads have loaded their modules
    await Promise.all(shards.map((s) => s.ready));
    const start = Date.now();
    const report = () => {
      let sent = 0;
      let accepted = 0;
      for (const p of progress.values()) {
        sent += p.sent;
        accepted += p.accepted;
      }
      deps.onProgress?.({ sent, planned, accepted, elapsedMs: Date.now() - start });
    };
    const timer = setInterval(report, 250);
    const onAbort = () => {
      for (const s of shards) s.stop();
    };
    deps.signal?.addEventListener('abort', onAbort, { once: true });
    const cpu0 = process.cpuUsage();
    let records: ShardRecord[];
    try {
      for (const s of shards) s.start(start);
      records =
        workers > 1
          ? await Promise.all(shards.map((s) => s.record))
          : [
              await driveCrowd({
                ...(parts[0] as ShardInput),
                start,
                signal: deps.signal,
                onProgress: (p) => progress.set(0, p),
              }),
            ];
    } finally {
      clearInterval(timer);
      deps.signal?.removeEventListener('abort', onAbort);
    }
    report();
    const cpu = process.cpuUsage(cpu0);
    const startedAt = new Date(start).toISOString();
    return merge(records, { o, runId, startedAt, start, planned, workers, cpuMs: (cpu.user + cpu.system) / 1000 });
  } finally {
    for (const s of shards) s.terminate();
  }
}

function merge(
  shards: ShardRecord[],
  m: {
    o: LoadOptions;
    runId: string;
    startedAt: string;
    start: number;
    planned: number;
    workers: number;
    cpuMs: number;
  },
): LoadRecord {
  const latency = new Samples();
  const byStatusCode: Record<string, number> = {};
  const byErrorCode: Record<string, number> = {};
  const finalStatuses: Record<string, number> = {};
  const acceptedOrders = new Map<string, string>();
  let attempts = 0;
  let replayed = 0;
  let transportErrors = 0;
  let followed = 0;
  let reachedFinal = 0;
  for (const s of shards) {
    latency.addAll(s.latencies);
    for (const [k, v] of Object.entries(s.byStatusCode)) increment(byStatusCode, k, v);
    for (const [k, v] of Object.entries(s.byErrorCode)) increment(byErrorCode, k, v);
    for (const [k, v] of Object.entries(s.sse.finalStatuses)) increment(finalStatuses, k, v);
    for (const [id, item] of s.acceptedOrders) acceptedOrders.set(id, item);
    attempts += s.attempts;
    replayed += s.replayed;
    transportErrors += s.transportErrors;
    followed += s.sse.followed;
    reachedFinal += s.sse.reachedFinal;
  }
  const sent = shards.map((s) => s.firstSentAt).filter((t) => t > 0);
  const burstMs = Math.max(0, ...shards.map((s) => s.endedAt)) - m.start;
  return {
    runId: m.runId,
    startedAt: m.startedAt,
    firstSentAt: sent.length > 0 ? Math.min(...sent) : m.start,
    durationMs: burstMs,
    planned: m.planned,
    attempts,
    byStatusCode,
    byErrorCode,
    accepted: acceptedOrders.size,
    replayed,
    transportErrors,
    latencyMs: latency.summary(),
    offeredRate: m.o.rampSeconds > 0 ? m.planned / m.o.rampSeconds : m.planned,
    achievedRate: attempts / Math.max(0.001, burstMs / 1000),
    sse: { followed, reachedFinal, finalStatuses },
    generator: {
      workers: m.workers,
      cpuMs: Math.round(m.cpuMs),
      cpuMsPerRequest: Number((m.cpuMs / Math.max(1, attempts)).toFixed(4)),
    },
    acceptedOrders,
  };
}
