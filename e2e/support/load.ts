/**
 * A bounded burst of orders through a real gateway over HTTP (loopback), recording every answer: which orders got a
 * 202 (the ones that must never be lost), and how the others were refused.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from './wait.ts';

export interface Answer {
  status: number;
  code?: string;
  orderId?: string;
  itemId: string;
  retryAfter?: string;
  /** when the request started, ms since the epoch */
  at: number;
  /** how long the answer took */
  ms: number;
}

export class BurstLog {
  readonly answers: Answer[] = [];
  /** order id -> item id of every 202 */
  readonly accepted = new Map<string, string>();

  count(pred: (a: Answer) => boolean): number {
    return this.answers.filter(pred).length;
  }

  byStatus(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.answers) out[a.status] = (out[a.status] ?? 0) + 1;
    return out;
  }
}

/** One POST /v1/orders; network errors count as status 0. */
export async function postOrder(
  baseUrl: string,
  body: { user_id: string; item_id: string; quantity: number },
  log: BurstLog,
  timeoutMs = 10_000,
  key: string = randomUUID(),
): Promise<Answer> {
  const at = Date.now();
  let a: Answer;
  try {
    const r = await fetch(`${baseUrl}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await r.text();
    let json: { order_id?: string; code?: string } = {};
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON
    }
    a = { status: r.status, itemId: body.item_id, at, ms: Date.now() - at };
    if (json.code) a.code = json.code;
    if (json.order_id) a.orderId = json.order_id;
    const ra = r.headers.get('retry-after');
    if (ra !== null) a.retryAfter = ra;
  } catch (e) {
    a = { status: 0, code: (e as Error).name, itemId: body.item_id, at, ms: Date.now() - at };
  }
  log.answers.push(a);
  if (a.status === 202 && a.orderId) log.accepted.set(a.orderId, body.item_id);
  return a;
}

/**
 * `total` orders (quantity 1, distinct users, items round robin) with at most `concurrency` in flight; `onSent(n)`
 * runs after the n-th answer (to inject a fault mid-burst). `paceMs` spaces the starts so a burst lasts long enough
 * for a fault to land in its middle.
 */
export async function burst(
  baseUrl: string,
  opts: {
    items: string[];
    total: number;
    concurrency?: number;
    paceMs?: number;
    userPrefix?: string;
    log?: BurstLog;
    onAnswer?: (n: number, a: Answer) => void | Promise<void>;
  },
): Promise<BurstLog> {
  const log = opts.log ?? new BurstLog();
  const prefix = opts.userPrefix ?? `u${randomUUID().slice(0, 6)}`;
  let next = 0;
  let answered = 0;
  const worker = async () => {
    for (let n = next++; n < opts.total; n = next++) {
      const item = opts.items[n % opts.items.length]!;
      const a = await postOrder(baseUrl, { user_id: `${prefix}-${n}`, item_id: item, quantity: 1 }, log);
      answered++;
      await opts.onAnswer?.(answered, a);
      if (opts.paceMs) await sleep(opts.paceMs);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return log;
}

/** Answers a client retries with the same key (docs/api.md): no answer, 503 (+ Retry-After), DUPLICATE_IN_FLIGHT. */
const retriable = (a: Answer) => a.status === 0 || a.status === 503 || a.code === 'DUPLICATE_IN_FLIGHT';

/**
 * `total` orders (quantity 1, distinct users, items round robin) placed the way docs/api.md tells clients to: an order
 * that got no answer, a 503 or DUPLICATE_IN_FLIGHT is sent again with the same idempotency key after its Retry-After
 * (1 s when none), until it gets another answer or `deadlineMs` passes. For tests that need a backlog, not a test of
 * the gateway under pressure: a busy machine may answer late, and the gateway's idempotency makes the retry safe.
 * Every attempt is logged; `accepted` holds each order once.
 */
export async function placeAll(
  baseUrl: string,
  opts: { items: string[]; total: number; concurrency?: number; deadlineMs?: number; userPrefix?: string },
): Promise<BurstLog> {
  const log = new BurstLog();
  const prefix = opts.userPrefix ?? `u${randomUUID().slice(0, 6)}`;
  const deadline = Date.now() + (opts.deadlineMs ?? 180_000);
  let next = 0;
  const worker = async () => {
    for (let n = next++; n < opts.total; n = next++) {
      const body = { user_id: `${prefix}-${n}`, item_id: opts.items[n % opts.items.length]!, quantity: 1 };
      const key = randomUUID();
      for (;;) {
        const a = await postOrder(baseUrl, body, log, 10_000, key);
        if (!retriable(a) || Date.now() >= deadline) break;
        await sleep(1000 * Math.max(1, Number(a.retryAfter ?? 1) || 1));
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return log;
}

/**
 * A steady stream of orders (quantity 1, distinct users, items round robin) from `clients` sequential clients, each
 * waiting `paceMs` between its requests, until `stop()`: the traffic a fault lands in. Answers go to `log`.
 */
export function steadyStream(
  baseUrl: string,
  opts: { items: string[]; clients: number; paceMs: number; timeoutMs?: number },
): { log: BurstLog; stop: () => Promise<void> } {
  const log = new BurstLog();
  let stopped = false;
  let n = 0;
  const client = async () => {
    while (!stopped) {
      const i = n++;
      const item = opts.items[i % opts.items.length]!;
      await postOrder(baseUrl, { user_id: `u-${i}`, item_id: item, quantity: 1 }, log, opts.timeoutMs);
      await sleep(opts.paceMs);
    }
  };
  const clients = Promise.all(Array.from({ length: opts.clients }, client));
  return {
    log,
    stop: async () => {
      stopped = true;
      await clients;
    },
  };
}
