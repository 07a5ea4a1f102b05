/**
 * Drives the crowd against a gateway over HTTP and records every answer. Bounded: stops at
 * `maxSeconds` whatever happens, and only talks to the URL it is given.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { FINAL_STATUSES, type OrderStatus } from '@flashsale/common';
import { Pool } from 'undici';
import { type Arrival, type Attempt, planCrowd } from './crowd.ts';
import type { LoadOptions } from './options.ts';
import { increment, Samples } from './stats.ts';

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
  /** order ids answered 202, keyed to the item */
  acceptedOrders: Map<string, string>;
}

interface Deps {
  onProgress?: (p: LoadProgress) => void;
  signal?: AbortSignal;
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
  const origin = new URL(o.url).origin;
  const pool = new Pool(origin, { connections: o.concurrency, pipelining: 1, keepAliveTimeout: 10_000 });
  const byStatusCode: Record<string, number> = {};
  const byErrorCode: Record<string, number> = {};
  const latency = new Samples();
  const acceptedOrders = new Map<string, string>();
  const sse = { followed: 0, reachedFinal: 0, finalStatuses: {} as Record<string, number> };
  const sseTasks: Promise<void>[] = [];
  let attempts = 0;
  let replayed = 0;
  let transportErrors = 0;
  let inFlight = 0;
  const waiters: (() => void)[] = [];
  const deadline = Date.now() + o.maxSeconds * 1000;
  const stop = AbortSignal.any([AbortSignal.timeout(o.maxSeconds * 1000), ...(deps.signal ? [deps.signal] : [])]);
  let sseCounter = 0;
  let firstSentAt: number | undefined;

  const acquire = async () => {
    while (inFlight >= o.concurrency) await new Promise<void>((r) => waiters.push(r));
    inFlight++;
  };
  const release = () => {
    inFlight--;
    waiters.shift()?.();
  };

  const send = async (a: Attempt): Promise<{ status: number; retryAfter: number }> => {
    await acquire();
    firstSentAt ??= Date.now();
    const t0 = performance.now();
    try {
      const res = await pool.request({
        path: '/v1/orders',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': a.key,
          'x-forwarded-for': a.ip,
          'x-correlation-id': `${runId}-${attempts}`,
        },
        body: JSON.stringify({ user_id: a.user, item_id: a.item, quantity: o.quantity }),
        signal: stop,
      });
      const text = await res.body.text();
      latency.add(performance.now() - t0);
      attempts++;
      increment(byStatusCode, String(res.statusCode));
      let body: { order_id?: string; code?: string } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        increment(byErrorCode, 'UNPARSEABLE_BODY');
      }
      if (res.headers['idempotent-replayed'] === 'true') replayed++;
      if (body.code) increment(byErrorCode, body.code);
      if (res.statusCode === 202 && body.order_id && !acceptedOrders.has(body.order_id)) {
        acceptedOrders.set(body.order_id, a.item);
        sseCounter++;
        if (o.sseShare > 0 && sseCounter % Math.max(1, Math.round(1 / o.sseShare)) === 0) {
          sseTasks.push(follow(body.order_id));
        }
      }
      const ra = Number(res.headers['retry-after'] ?? 0);
      return { status: res.statusCode, retryAfter: Number.isFinite(ra) ? ra : 0 };
    } catch (err) {
      if (stop.aborted) return { status: 0, retryAfter: 0 };
      attempts++;
      transportErrors++;
      increment(byStatusCode, 'transport_error');
      increment(byErrorCode, (err as { code?: string }).code ?? 'TRANSPORT');
      return { status: 0, retryAfter: 1 };
    } finally {
      release();
    }
  };

  const follow = async (orderId: string): Promise<void> => {
    sse.followed++;
    try {
      const res = await pool.request({
        path: `/v1/orders/${encodeURIComponent(orderId)}/events`,
        method: 'GET',
        headers: { accept: 'text/event-stream' },
        signal: AbortSignal.any([stop, AbortSignal.timeout((o.settleSeconds + o.rampSeconds + 30) * 1000)]),
      });
      let buf = '';
      for await (const chunk of res.body) {
        buf += chunk.toString();
        let idx = buf.indexOf('\n\n');
        while (idx >= 0) {
          const event = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const data = event
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('');
          if (data) {
            try {
              const parsed = JSON.parse(data) as { status?: OrderStatus };
              if (parsed.status && FINAL_STATUSES.has(parsed.status)) {
                sse.reachedFinal++;
                increment(sse.finalStatuses, parsed.status);
                res.body.destroy();
                return;
              }
            } catch {
              // keep-alive comments and partial frames are not JSON
            }
          }
          idx = buf.indexOf('\n\n');
        }
      }
    } catch {
      // a stream cut short counts as not reaching final; nothing else to do
    }
  };

  const runUser = async (arrival: Arrival, start: number): Promise<void> => {
    const wait = start + arrival.at - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal: stop }).catch(() => undefined);
    for (const a of arrival.attempts) {
      if (stop.aborted || Date.now() > deadline) return;
      let tries = 0;
      for (;;) {
        const r = await send(a);
        tries++;
        // people retry overload answers with the same key after Retry-After; bots do not wait
        const overloaded = r.status === 429 || r.status === 503 || r.status === 0;
        if (!overloaded || a.persona === 'bot' || tries >= 3) break;
        await sleep(Math.min(5, Math.max(0.05, r.retryAfter)) * 1000, undefined, { signal: stop }).catch(
          () => undefined,
        );
      }
    }
  };

  const start = Date.now();
  const startedAt = new Date(start).toISOString();
  const progressTimer = setInterval(() => {
    deps.onProgress?.({ sent: attempts, planned, accepted: acceptedOrders.size, elapsedMs: Date.now() - start });
  }, 250);
  try {
    await Promise.all(crowd.map((a) => runUser(a, start)));
    const burstMs = Date.now() - start;
    await Promise.all(sseTasks);
    deps.onProgress?.({ sent: attempts, planned, accepted: acceptedOrders.size, elapsedMs: Date.now() - start });
    return {
      runId,
      startedAt,
      firstSentAt: firstSentAt ?? start,
      durationMs: burstMs,
      planned,
      attempts,
      byStatusCode,
      byErrorCode,
      accepted: acceptedOrders.size,
      replayed,
      transportErrors,
      latencyMs: latency.summary(),
      offeredRate: o.rampSeconds > 0 ? planned / o.rampSeconds : planned,
      achievedRate: attempts / Math.max(0.001, burstMs / 1000),
      sse,
      acceptedOrders,
    };
  } finally {
    clearInterval(progressTimer);
    await pool.close().catch(() => undefined);
  }
}
