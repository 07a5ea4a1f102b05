/**
 * Order handling, independent of the Kafka client: one partition's batch in, durable effects out.
 *
 * 1. decode + validate every message (poison -> DLQ `invalid_order_format`, never blocks the partition);
 * 2. reserve: one Lua call per order, all issued in message order on one connection (auto-pipelining keeps
 *    the order, and one item always maps to one slot and node), so per-item order is kept; calls that failed
 *    transiently are re-issued together with backoff (one budget per batch), then dead-lettered as
 *    `redis_failure`. Under a fault a retried order can land after a later order of the same item that went
 *    through: the only reordering, and only under failure.
 *    An item seeded over K > 1 stock buckets (K read once per item from its meta, then cached: ./buckets.ts) is
 *    reserved through the bucket steps instead (claim, take, commit: common/src/buckets.ts), in a lane of its own
 *    beside the pipeline and the other hot items' lanes: the claims of the item's orders go out at once in message
 *    order (dedupe and per-user limit, home slot), then the takes run one order after the other in message order
 *    (first come, first served: units go to earlier orders first), each commit sent as soon as its take answered.
 *    Because the claims run ahead, an order's per-user check counts the same user's earlier orders of the batch even
 *    if they end SOLD_OUT. A transient failure moves that order and every later one of the item to the next round
 *    together (their claims resume), so a bucketed item is never reordered. After a sold-out answer the item's next
 *    orders are refused together while every bucket reads empty (one parallel read of the K levels, then one
 *    pipelined home-slot script per order with the same dedupe and per-user limit), so a backlog drains fast;
 * 3. pay the reserved orders concurrently (bounded), then confirm or release by compare-and-set (a bucketed item
 *    through `settleBucketed`, which gives failed units back to their bucket exactly once);
 * 4. write dead letters and wait for their acknowledgement; only then does the caller commit the offsets.
 */
import {
  type BucketReserveResult,
  bucketLevels,
  callScript,
  claimBucketed,
  commitBucketed,
  confirm as confirmHold,
  DLQ_HEADERS,
  type DlqHeaders,
  type DlqReason,
  decodeOrder,
  dlqHeadersSchema,
  itemKeys,
  type Logger,
  ORDER_FIELDS,
  ORDER_STATUSES,
  type OrderMessage,
  parseReserve,
  publishIfSoldOut,
  type RedisClient,
  type ReserveInput,
  type ReserveResult,
  refuseSoldOut,
  release as releaseHold,
  reserveArgs,
  settleBucketed,
  takeBucketed,
} from '@flashsale/common';
import { type BucketCounts, createBucketCounts } from './buckets.ts';
import { type Clock, systemClock } from './clock.ts';
import type { ProcessorConfig } from './config.ts';
import type { InMessage } from './consumer.ts';
import type { ProcessorMetrics } from './metrics.ts';
import { chargeWithTimeout, type PaymentProvider } from './payment.ts';
import type { DlqSink, OutRecord } from './producer.ts';

export interface HandlerDeps {
  config: ProcessorConfig;
  redis: RedisClient;
  payment: PaymentProvider;
  dlq: DlqSink;
  metrics: ProcessorMetrics;
  log: Logger;
  /** limits payments in flight across all partitions */
  paymentSlots: Semaphore;
  /** partitions of the DLQ topic: a batch's dead letters go to partition (source partition % this), in one request */
  dlqPartitions?: number;
  /** called with the remaining units seen by a reserve, to keep the inventory gauge fresh */
  onLevel?: (itemId: string, remaining: number) => void;
  /** stock buckets per item (shared with the sweeper and the audit); created here when absent */
  buckets?: BucketCounts;
  /** the time of holds (default: the wall clock) */
  clock?: Clock;
}

export class Semaphore {
  private free: number;
  /** FIFO of waiters; `head` avoids Array#shift, which is O(n) on the long queues a big batch builds */
  private waiters: (() => void)[] = [];
  private head = 0;
  constructor(n: number) {
    this.free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiters.push(r));
    try {
      return await fn();
    } finally {
      if (this.head < this.waiters.length) {
        const next = this.waiters[this.head++]!;
        if (this.head > 1024 && this.head * 2 > this.waiters.length) {
          this.waiters = this.waiters.slice(this.head);
          this.head = 0;
        }
        next();
      } else {
        this.free++;
      }
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Script and argument errors are permanent; connection-level failures are transient. */
export function isTransientRedisError(e: unknown): boolean {
  const err = e as { name?: string; message?: string };
  if (err?.name === 'ReplyError')
    return /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|BUSY|READONLY|OOM|NOREPLICAS)/.test(err.message ?? '');
  return true;
}

export async function withRedisRetry<T>(
  cfg: ProcessorConfig['redisRetry'],
  log: Logger,
  what: string,
  fn: () => Promise<T>,
) {
  let delay = cfg.baseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= cfg.attempts || !isTransientRedisError(e)) throw e;
      log.warn({ event: 'redis_retry', what, attempt, err: (e as Error).message }, 'transient Redis error, retrying');
      await sleep(delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, cfg.maxMs);
    }
  }
}

interface Work {
  msg: InMessage;
  started: number;
  order?: OrderMessage;
  reserve?: ReserveResult;
  /** stock buckets of the order's item (1: the plain item) */
  k?: number;
  /** its payment and settle already started (a bucketed order, right after its reserve) */
  settling?: boolean;
  dlq?: { reason: DlqReason; error: string };
  /** final word for logs and metrics */
  outcome?: string;
}

/** Statuses whose failure must reach the DLQ once (checked on replay via the dlq_at marker). */
function needsDlq(status: string, reason: string): DlqReason | undefined {
  if (status === 'PAYMENT_FAILED') return reason === 'payment_timeout' ? 'payment_timeout' : 'payment_failed';
  if (status === 'EXPIRED' && reason === 'paid_after_expiry') return 'hold_expired';
  if (status === 'REJECTED' && reason === 'unknown_item') return 'unknown_item';
  return undefined;
}

export function buildDlqRecord(msg: InMessage, reason: DlqReason, error: string, order?: OrderMessage): OutRecord {
  const prevAttempt = Number(msg.headers[DLQ_HEADERS.attempt] ?? '0');
  const h: DlqHeaders = {
    dlq_reason: reason,
    dlq_error: error.slice(0, 1024),
    correlation_id: order?.correlation_id ?? msg.headers[DLQ_HEADERS.correlationId] ?? '',
    request_id: order?.request_id ?? msg.headers[DLQ_HEADERS.requestId] ?? '',
    dlq_attempt: String((Number.isFinite(prevAttempt) ? prevAttempt : 0) + 1),
    dlq_original_topic: msg.topic,
    dlq_original_partition: String(msg.partition),
    dlq_original_offset: msg.offset,
    dlq_timestamp: new Date().toISOString(),
  };
  dlqHeadersSchema.parse(h);
  // original headers first, then ours (a redriven message's old dlq_* headers are replaced)
  return { key: msg.key, value: msg.value, headers: { ...msg.headers, ...h } };
}

/** A bucketed reserve in the shape of the plain one (remaining -1: not known without reading every bucket). */
function fromBucketed(b: BucketReserveResult): ReserveResult {
  if (b.status === 'QUEUED' || !(ORDER_STATUSES as readonly string[]).includes(b.status))
    throw new Error(`bucketed reserve ended in status ${b.status}`);
  return {
    status: b.status as ReserveResult['status'],
    reason: b.reason,
    remaining: -1,
    holdExpiresAt: '',
    replayed: b.replayed,
  };
}

export function createHandler(d: HandlerDeps) {
  const { config, redis, metrics, log } = d;
  const clock = d.clock ?? systemClock;
  const counts = d.buckets ?? createBucketCounts(redis, config.sale);
  /** bucketed items whose last answer was SOLD_OUT: their next orders first read the buckets (refusable) */
  const soldOut = new Set<string>();
  /** How many of `next` (in order) no bucket of the item can serve now: one parallel read of the K levels. */
  const refusable = async (item: string, k: number, next: Work[]) => {
    const most = Math.max(...(await bucketLevels(redis, config.sale, item, k)));
    let n = 0;
    while (n < next.length && next[n]!.order!.quantity > most) n++;
    return n;
  };
  const retry = <T>(what: string, fn: () => Promise<T>) => withRedisRetry(config.redisRetry, log, what, fn);

  const finish = (w: Work, outcome: string) => {
    w.outcome = outcome;
    const ms = Date.now() - w.started;
    metrics.processed.inc();
    metrics.duration.observe(ms / 1000);
    log.info(
      {
        event: 'order_processed',
        correlation_id: w.order?.correlation_id ?? w.msg.headers[DLQ_HEADERS.correlationId],
        order_id: w.order?.order_id,
        user_id: w.order?.user_id,
        item_id: w.order?.item_id,
        outcome,
        processing_time_ms: ms,
        partition: w.msg.partition,
        offset: w.msg.offset,
      },
      'Order processed',
    );
  };

  const fail = (w: Work, reason: DlqReason | 'limit_exceeded', error: string, dlq: boolean) => {
    metrics.failed.inc({ reason });
    if (dlq) w.dlq = { reason: reason as DlqReason, error };
  };

  /** A replayed final status whose dead letter may not have been written (crash between settle and DLQ). */
  const dlqIfUnmarked = async (w: Work, reason: DlqReason, error: string) => {
    const o = w.order!;
    const marked = await retry('hget dlq_at', () =>
      redis.hget(itemKeys(config.sale, o.item_id).order(o.order_id), ORDER_FIELDS.dlqAt),
    );
    if (!marked) w.dlq = { reason, error };
  };

  /**
   * Confirm / release a hold: the plain scripts, or for an item over K > 1 stock buckets settleBucketed (which gives
   * failed units back to their bucket exactly once), its outcomes named as the plain ones.
   */
  const confirmOf = async (o: OrderMessage, k: number) => {
    if (k <= 1) return confirmHold(redis, config.sale, o.item_id, o.order_id, clock.now());
    const c = await settleBucketed(redis, config.sale, o.item_id, o.order_id, 'CONFIRMED', '', k, clock.now());
    return { status: c.status, outcome: c.outcome === 'settled' ? 'confirmed' : c.outcome };
  };
  const releaseOf = async (o: OrderMessage, k: number, reason: string) => {
    if (k <= 1) return releaseHold(redis, config.sale, o.item_id, o.order_id, 'PAYMENT_FAILED', reason, clock.now());
    const c = await settleBucketed(redis, config.sale, o.item_id, o.order_id, 'PAYMENT_FAILED', reason, k, clock.now());
    return { status: c.status, outcome: c.outcome === 'settled' ? 'released' : c.outcome };
  };

  async function settle(w: Work): Promise<void> {
    const o = w.order!;
    const pay = await d.paymentSlots.run(() =>
      chargeWithTimeout(
        d.payment,
        { orderId: o.order_id, userId: o.user_id, itemId: o.item_id, quantity: o.quantity },
        config.payment.timeoutMs,
      ),
    );
    if (pay.ok) {
      const c = await retry('confirm', () => confirmOf(o, w.k ?? 1));
      if (c.outcome === 'confirmed') {
        metrics.success.inc();
        return finish(w, 'CONFIRMED');
      }
      if (c.outcome === 'replay') return finish(w, 'CONFIRMED (replay)');
      // paid, but the hold expired first: the stock went back, the payment must be refunded
      fail(w, 'hold_expired', `payment succeeded after the hold expired (status ${c.status})`, true);
      return finish(w, 'EXPIRED');
    }
    const r = await retry('release', () => releaseOf(o, w.k ?? 1, pay.reason));
    if (r.outcome === 'released') {
      fail(w, pay.reason, pay.error, true);
    } else if (r.outcome === 'replay') {
      await dlqIfUnmarked(w, pay.reason, pay.error);
    }
    return finish(w, r.status);
  }

  return async function handleBatch(messages: InMessage[]): Promise<void> {
    const now = Date.now();
    const work: Work[] = messages.map((msg) => ({ msg, started: now }));

    // 1. decode
    for (const w of work) {
      try {
        const o = decodeOrder(w.msg.value);
        if (o.sale !== config.sale) throw new Error(`order of sale "${o.sale}" on the topic of sale "${config.sale}"`);
        w.order = o;
      } catch (e) {
        fail(w, 'invalid_order_format', (e as Error).message, true);
        finish(w, 'INVALID');
      }
    }

    // 2. reserve, issued in message order without waiting in between (one pipeline per round). Orders whose
    //    call failed transiently are re-issued together, still in message order, after a backoff; the batch has
    //    one retry budget (an outage costs REDIS_RETRY_ATTEMPTS rounds, not that many per order).
    const valid = work.filter((w) => w.order);
    const tasks: Promise<void>[] = [];
    const startSettle = (w: Work) => {
      w.settling = true;
      tasks.push(
        settle(w).catch((e) => {
          const transient = isTransientRedisError(e);
          fail(w, transient ? 'redis_failure' : 'processing_error', (e as Error).message, true);
          finish(w, 'SETTLE_FAILED');
        }),
      );
    };
    const inputOf = (w: Work): ReserveInput => {
      const o = w.order!;
      return {
        orderId: o.order_id,
        itemId: o.item_id,
        userId: o.user_id,
        quantity: o.quantity,
        correlationId: o.correlation_id,
        requestId: o.request_id,
      };
    };
    const reserveOf = (w: Work) => {
      const { keys, args } = reserveArgs(config.sale, inputOf(w), config.holdTtlMs, clock.now());
      return callScript(redis, 'inventory_reserve', keys, args);
    };
    let pending = valid;
    let delay = config.redisRetry.baseMs;
    for (let round = 1; pending.length > 0; round++) {
      const again: Work[] = [];
      let lastError: unknown;
      const failed = (w: Work, e: unknown) => {
        const transient = isTransientRedisError(e);
        if (transient && round < config.redisRetry.attempts) {
          again.push(w);
          lastError = e;
          return;
        }
        fail(w, transient ? 'redis_failure' : 'processing_error', (e as Error).message, true);
        finish(w, transient ? 'REDIS_FAILURE' : 'PROCESSING_ERROR');
      };

      // K of the items not seen yet (one read per item, then cached); a plain item keeps the pipelined path
      const unseen = [...new Set(pending.map((w) => w.order!.item_id).filter((i) => counts.peek(i) === undefined))];
      const looked = new Map<string, PromiseSettledResult<number>>();
      if (unseen.length > 0) {
        const res = await Promise.allSettled(unseen.map((i) => counts.get(i)));
        for (const [n, i] of unseen.entries()) looked.set(i, res[n]!);
      }
      const plain: Work[] = [];
      const lanes = new Map<string, Work[]>();
      for (const w of pending) {
        const item = w.order!.item_id;
        const l = looked.get(item);
        const k = counts.peek(item) ?? (l?.status === 'fulfilled' ? l.value : undefined);
        if (k === undefined) {
          failed(w, (l as PromiseRejectedResult | undefined)?.reason ?? new Error('stock buckets unknown'));
          continue;
        }
        w.k = k;
        if (k <= 1) plain.push(w);
        else if (lanes.has(item)) lanes.get(item)!.push(w);
        else lanes.set(item, [w]);
      }

      // a bucketed item's orders, in message order: (0) after a sold-out answer, while every bucket reads empty, the
      // next orders are answered SOLD_OUT at once; (1) the claims of the rest at once (one pipeline to the home slot);
      // (2) the takes one order after the other (first come, first served), each commit sent as soon as its take
      // answered, without waiting; (3) the commits awaited. A transient failure moves that order and the item's
      // later ones to the next round together (their claims resume there).
      const lane = async (list: Work[]) => {
        const item = list[0]!.order!.item_id;
        const k = list[0]!.k!;
        /** true when the lane stops: a transient failure moved list[from..] to the next round */
        const stop = (from: number, e: unknown) => {
          if (isTransientRedisError(e) && round < config.redisRetry.attempts) {
            for (const w of list.slice(from)) failed(w, e);
            return true;
          }
          failed(list[from]!, e);
          return false;
        };
        const answer = (w: Work, res: BucketReserveResult) => {
          try {
            w.reserve = fromBucketed(res);
          } catch (e) {
            failed(w, e);
          }
        };
        let at = 0;
        // (0)
        while (soldOut.has(item) && at < list.length) {
          let n = 0;
          try {
            n = await refusable(item, k, list.slice(at));
          } catch (e) {
            if (stop(at, e)) return;
            at++;
            continue;
          }
          if (n === 0) {
            soldOut.delete(item);
            break;
          }
          let leftClaiming = false;
          for (const x of await refuseSoldOut(redis, config.sale, list.slice(at, at + n).map(inputOf), clock.now())) {
            if (x.status === 'rejected') {
              if (stop(at, x.reason)) return;
            } else if (!x.value) {
              // left CLAIMING by a crash: the full path below (it may hold a take); the orders answered after it
              // are replays there
              leftClaiming = true;
              break;
            } else answer(list[at]!, x.value);
            at++;
          }
          if (leftClaiming) break;
        }
        // (1)
        const rest = list.slice(at);
        const claims = await Promise.allSettled(
          rest.map((w) => claimBucketed(redis, config.sale, inputOf(w), clock.now())),
        );
        // (2)
        const commits: Promise<void>[] = [];
        const commit = (w: Work, bucket: number) => {
          const p = commitBucketed(redis, config.sale, inputOf(w), k, bucket, config.holdTtlMs, clock.now(), false);
          commits.push(
            p.then(
              (res) => {
                answer(w, res);
                // pay at once: the hold's clock runs from its reserve, not from the end of the item's lane
                if (res.status === 'RESERVED') startSettle(w);
              },
              (e) => failed(w, e), // its claim (and take) stay: the next round resumes it
            ),
          );
        };
        let most: number | undefined; // after a take found every bucket empty: the most units a bucket held then
        for (const [j, c] of claims.entries()) {
          const w = rest[j]!;
          if (c.status === 'rejected') {
            if (stop(at + j, c.reason)) break;
            continue;
          }
          const { done, resumed } = c.value;
          if (done) {
            answer(w, done);
            continue;
          }
          if (most !== undefined && !resumed) {
            // every bucket read empty for this order too (one read for the stretch): sold out without takes
            if (w.order!.quantity > most) {
              commit(w, -1);
              continue;
            }
            most = undefined;
          }
          let bucket: number;
          try {
            bucket = await takeBucketed(redis, config.sale, inputOf(w), k, resumed);
          } catch (e) {
            if (stop(at + j, e)) break;
            continue;
          }
          commit(w, bucket);
          if (bucket < 0) {
            soldOut.add(item);
            most = await bucketLevels(redis, config.sale, item, k).then(
              (l) => Math.max(...l),
              () => undefined,
            );
          }
        }
        // (3)
        await Promise.all(commits);
        if (soldOut.has(item)) await publishIfSoldOut(redis, config.sale, item, k).catch(() => false);
      };
      // the plain pipeline's holds are paid as soon as it answered, not after the hot items' lanes
      const pipeline = Promise.allSettled(plain.map(reserveOf)).then((results) => {
        for (const [i, res] of results.entries()) {
          const w = plain[i]!;
          if (res.status === 'rejected') {
            failed(w, res.reason);
            continue;
          }
          w.reserve = parseReserve(res.value);
          if (w.reserve.status === 'RESERVED') {
            d.onLevel?.(w.order!.item_id, w.reserve.remaining);
            startSettle(w);
          }
        }
      });
      await Promise.all([pipeline, ...[...lanes.values()].map(lane)]);
      // the next round in message order
      pending = again.sort((a, b) => Number(a.msg.offset) - Number(b.msg.offset));
      if (pending.length > 0) {
        log.warn(
          { event: 'redis_retry', what: 'reserve', round, orders: pending.length, err: (lastError as Error)?.message },
          'transient Redis error, retrying',
        );
        await sleep(delay / 2 + Math.random() * (delay / 2));
        delay = Math.min(delay * 2, config.redisRetry.maxMs);
      }
    }

    // 3. act on each reserve result; payments run concurrently
    for (const w of valid) {
      const r = w.reserve;
      if (!r || w.settling) continue;
      if (r.remaining >= 0) d.onLevel?.(w.order!.item_id, r.remaining);
      if (r.status === 'RESERVED') {
        startSettle(w);
        continue;
      }
      if (r.replayed) {
        if ((w.k ?? 1) > 1 && (r.status === 'PAYMENT_FAILED' || r.status === 'EXPIRED')) {
          // a crash may have come between the settle and the give-back: repeat it (once: guarded by the take marker)
          const o = w.order!;
          await retry('give back', () =>
            settleBucketed(
              redis,
              config.sale,
              o.item_id,
              o.order_id,
              r.status as 'EXPIRED',
              r.reason,
              w.k!,
              clock.now(),
            ),
          ).catch((e) => log.warn({ err: e, order_id: o.order_id }, 'give-back on replay failed; the sweeper retries'));
        }
        const reason = needsDlq(r.status, r.reason);
        if (reason) await dlqIfUnmarked(w, reason, `replayed order already ${r.status} (${r.reason})`);
        finish(w, `${r.status} (replay)`);
        continue;
      }
      if (r.status === 'SOLD_OUT') metrics.soldOut.inc();
      else if (r.status === 'LIMIT_EXCEEDED') fail(w, 'limit_exceeded', 'per-user limit reached', false);
      else if (r.status === 'REJECTED') fail(w, 'unknown_item', `item "${w.order!.item_id}" is not on sale`, true);
      finish(w, r.status);
    }
    await Promise.all(tasks);

    // 4. dead letters, acknowledged before the caller commits; then mark the orders (replays skip them)
    const dead = work.filter((w) => w.dlq);
    if (dead.length === 0) return;
    await d.dlq.send(
      dead.map((w) => ({
        ...buildDlqRecord(w.msg, w.dlq!.reason, w.dlq!.error, w.order),
        partition: d.dlqPartitions ? w.msg.partition % d.dlqPartitions : undefined,
      })),
    );
    for (const w of dead) {
      metrics.movedToDlq.inc({ reason: w.dlq!.reason });
      log.warn(
        {
          event: 'order_dead_lettered',
          correlation_id: w.order?.correlation_id,
          order_id: w.order?.order_id,
          user_id: w.order?.user_id,
          item_id: w.order?.item_id,
          reason: w.dlq!.reason,
          error: w.dlq!.error,
        },
        'Order moved to DLQ',
      );
    }
    const marked: ReadonlySet<DlqReason> = new Set([
      'payment_failed',
      'payment_timeout',
      'hold_expired',
      'unknown_item',
    ]);
    const marks = dead.filter((w) => w.order && marked.has(w.dlq!.reason));
    await Promise.all(
      marks.map((w) =>
        retry('mark dlq_at', () =>
          redis.hset(
            itemKeys(config.sale, w.order!.item_id).order(w.order!.order_id),
            ORDER_FIELDS.dlqAt,
            String(Date.now()),
          ),
        ).catch((e) => log.warn({ err: e, order_id: w.order!.order_id }, 'could not mark the order as dead-lettered')),
      ),
    );
  };
}
