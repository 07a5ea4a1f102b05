/**
 * Drives a planned crowd (or one worker's share of it) at the gateway and tallies every answer. One timer lets users
 * in at their arrival time; `connections` lanes each take the next waiting user and send its attempts back to back
 * (an overload answer puts a person back in the queue after Retry-After; bots do not wait). No timer, promise chain or
 * abort listener per user: with thousands of users arriving at once those made the generator slower than the gateway.
 * Bounded: stops at `maxSeconds` whatever happens, and only talks to the URL it is given.
 */
import { Pool } from 'undici';
import type { Arrival } from './crowd.ts';
import type { LoadOptions } from './options.ts';
import { type OrderAnswer, OrderSender } from './order-sender.ts';
import { followOrder, type SseTally } from './sse-follow.ts';
import { increment, Samples } from './stats.ts';

export interface ShardProgress {
  sent: number;
  accepted: number;
}

/** What one driver saw; plain data, so a worker thread can post it back. */
export interface ShardRecord {
  /** epoch ms of the first request sent (0: none) */
  firstSentAt: number;
  /** epoch ms when the last user was done */
  endedAt: number;
  attempts: number;
  byStatusCode: Record<string, number>;
  byErrorCode: Record<string, number>;
  replayed: number;
  transportErrors: number;
  /** latency of every answer, ms */
  latencies: Float64Array;
  sse: SseTally;
  /** order ids answered 202 (first answer, not replays) -> item */
  acceptedOrders: Map<string, string>;
}

export interface DriveInput {
  o: LoadOptions;
  /** sorted by `at` */
  crowd: Arrival[];
  /** prefix of the X-Correlation-ID of each request (the run, and the thread when there are several) */
  correlationPrefix: string;
  /** epoch ms the arrival times count from */
  start: number;
  /** HTTP connections for orders (requests in flight at most); SSE followers get as many again */
  connections: number;
  /** the order statuses that end an SSE follower (FINAL_STATUSES, passed in: see sse-follow.ts) */
  finalStatuses: string[];
  onProgress?: (p: ShardProgress) => void;
  signal?: AbortSignal | undefined;
}

interface Task {
  arrival: Arrival;
  next: number;
  tries: number;
}

/** FIFO without Array.shift's copying (the queue holds up to every user of the crowd). */
class Queue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}

export async function driveCrowd(input: DriveInput): Promise<ShardRecord> {
  const { o, crowd, start } = input;
  const sender = new OrderSender(o.url, input.connections, input.correlationPrefix, o.quantity);
  const ssePool = new Pool(new URL(o.url).origin, { connections: input.connections, keepAliveTimeout: 10_000 });
  const stopCtl = new AbortController();
  const rec: ShardRecord = {
    firstSentAt: 0,
    endedAt: 0,
    attempts: 0,
    byStatusCode: {},
    byErrorCode: {},
    replayed: 0,
    transportErrors: 0,
    latencies: new Float64Array(0),
    sse: { followed: 0, reachedFinal: 0, finalStatuses: {} },
    acceptedOrders: new Map(),
  };
  const latency = new Samples();
  const sseTasks: Promise<void>[] = [];
  const finalStatuses = new Set(input.finalStatuses);
  const sseEvery = o.sseShare > 0 ? Math.max(1, Math.round(1 / o.sseShare)) : 0;
  const deadline = start + o.maxSeconds * 1000;
  const ready = new Queue<Task>();
  const idle: (() => void)[] = [];
  const sleeping = new Set<NodeJS.Timeout>();
  let usersLeft = crowd.length;
  let launched = 0;
  let launchTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    finish = r;
  });

  const wakeOne = () => idle.pop()?.();
  const userDone = () => {
    if (--usersLeft === 0) {
      rec.endedAt = Date.now();
      finish();
      for (const w of idle.splice(0)) w();
    }
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    rec.endedAt ||= Date.now();
    stopCtl.abort();
    clearTimeout(launchTimer);
    for (const t of sleeping) clearTimeout(t);
    sleeping.clear();
    void sender.destroy().catch(() => undefined);
    finish();
    for (const w of idle.splice(0)) w();
  };

  const tally = (a: OrderAnswer, item: string) => {
    rec.attempts++;
    if (a.status === 0) {
      rec.transportErrors++;
      increment(rec.byStatusCode, 'transport_error');
      increment(rec.byErrorCode, a.transportError ?? 'TRANSPORT');
      return;
    }
    latency.add(a.latencyMs);
    increment(rec.byStatusCode, String(a.status));
    if (a.unparseable) increment(rec.byErrorCode, 'UNPARSEABLE_BODY');
    if (a.replayed) rec.replayed++;
    if (a.code) increment(rec.byErrorCode, a.code);
    if (a.status === 202 && a.orderId && !rec.acceptedOrders.has(a.orderId)) {
      rec.acceptedOrders.set(a.orderId, item);
      if (sseEvery > 0 && rec.acceptedOrders.size % sseEvery === 0) {
        const limit = AbortSignal.timeout((o.settleSeconds + o.rampSeconds + 30) * 1000);
        sseTasks.push(
          followOrder(ssePool, a.orderId, finalStatuses, AbortSignal.any([stopCtl.signal, limit]), rec.sse),
        );
      }
    }
  };

  const lane = async (): Promise<void> => {
    while (!stopped && usersLeft > 0) {
      const t = ready.shift();
      if (!t) {
        await new Promise<void>((r) => idle.push(r));
        continue;
      }
      // one user's attempts back to back on this lane
      for (;;) {
        const a = t.arrival.attempts[t.next];
        if (!a || Date.now() > deadline) {
          userDone();
          break;
        }
        rec.firstSentAt ||= Date.now();
        const answer = await sender.post(a);
        if (stopped) return; // cut off by the hard stop: not counted
        tally(answer, a.item);
        t.tries++;
        // people retry overload answers with the same key after Retry-After; bots do not wait
        const overloaded = answer.status === 429 || answer.status === 503 || answer.status === 0;
        if (overloaded && t.arrival.persona !== 'bot' && t.tries < 3) {
          const timer = setTimeout(
            () => {
              sleeping.delete(timer);
              ready.push(t);
              wakeOne();
            },
            Math.min(5, Math.max(0.05, answer.retryAfter)) * 1000,
          );
          sleeping.add(timer);
          break;
        }
        t.next++;
        t.tries = 0;
      }
    }
  };

  const launch = () => {
    const now = Date.now() - start;
    while (launched < crowd.length && (crowd[launched] as Arrival).at <= now) {
      ready.push({ arrival: crowd[launched++] as Arrival, next: 0, tries: 0 });
      wakeOne();
    }
    if (launched < crowd.length && !stopped) {
      launchTimer = setTimeout(launch, Math.max(1, (crowd[launched] as Arrival).at - now));
    }
  };

  if (crowd.length === 0) return { ...rec, endedAt: Date.now() };
  const hardStop = setTimeout(stop, Math.max(0, deadline - Date.now()));
  const onAbort = () => stop();
  input.signal?.addEventListener('abort', onAbort, { once: true });
  const progress = setInterval(
    () => input.onProgress?.({ sent: rec.attempts, accepted: rec.acceptedOrders.size }),
    250,
  );
  try {
    launchTimer = setTimeout(launch, Math.max(0, start - Date.now()));
    const lanes = Array.from({ length: input.connections }, lane);
    await finished;
    await Promise.all(lanes);
    await Promise.all(sseTasks);
    input.onProgress?.({ sent: rec.attempts, accepted: rec.acceptedOrders.size });
    return { ...rec, latencies: latency.values() };
  } finally {
    clearTimeout(hardStop);
    clearInterval(progress);
    input.signal?.removeEventListener('abort', onAbort);
    await Promise.all([sender.close().catch(() => undefined), ssePool.close().catch(() => undefined)]);
  }
}
