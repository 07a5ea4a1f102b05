/**
 * Order stage 5, dead letters: which final statuses need one, the record (original message and headers, then the
 * dlq_* headers), and the batch's letters, each sent with its order's final word and all acknowledged before the
 * caller commits the offsets. An order's letter is then marked on its record (`dlq_at`), so a replay of the order after a crash between
 * the settle and the letter writes it, and a replay after the letter does not write it twice.
 */
import {
  DLQ_HEADERS,
  type DlqHeaders,
  type DlqReason,
  dlqHeadersSchema,
  itemKeys,
  ORDER_FIELDS,
  type OrderMessage,
} from '@flashsale/common';
import type { InMessage } from '../consumer.ts';
import type { OutRecord } from '../producer.ts';
import type { OrderContext } from './context.ts';
import type { Work } from './work.ts';

/** Reasons whose letter is marked on the order record (the others have no record, or none of their own). */
const MARKED: ReadonlySet<DlqReason> = new Set(['payment_failed', 'payment_timeout', 'hold_expired', 'unknown_item']);

/** Statuses whose failure must reach the DLQ once (checked on replay via the dlq_at marker). */
export function needsDlq(status: string, reason: string): DlqReason | undefined {
  if (status === 'PAYMENT_FAILED') return reason === 'payment_timeout' ? 'payment_timeout' : 'payment_failed';
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

/** A replayed final status whose dead letter may not have been written (crash between settle and DLQ). */
export async function dlqIfUnmarked(ctx: OrderContext, w: Work, reason: DlqReason, error: string): Promise<void> {
  const o = w.order!;
  const marked = await ctx.retry('hget dlq_at', () =>
    ctx.redis.hget(itemKeys(ctx.config.sale, o.item_id).order(o.order_id), ORDER_FIELDS.dlqAt),
  );
  if (!marked) w.dlq = { reason, error };
}

/**
 * A batch's dead letters, sent as they are decided: an order's letter leaves with the others decided in the same turn
 * of the event loop (one request per DLQ partition), while the batch's other orders are still being reserved and paid,
 * so the batch no longer waits for all of them after its last settle. `done` resolves once every letter is
 * acknowledged and marked: only then does the caller commit the offsets.
 *
 * One letter per order and batch: a message delivered twice in one batch (an at-least-once producer's retry, a stuck
 * order sent again) is a replay of its first copy, and the first copy's letter may not be marked on the record yet
 * when the replay asks for one.
 */
export class BatchLetters {
  private readonly ctx: OrderContext;
  private readonly lettered = new Set<string>();
  private pending: Work[] = [];
  private scheduled = false;
  private readonly sends: Promise<void>[] = [];
  constructor(ctx: OrderContext) {
    this.ctx = ctx;
  }

  /** The order's letter, if it has one, on its way (called with the order's final word). */
  post(w: Work): void {
    if (!w.dlq) return;
    const id = w.order?.order_id;
    if (id !== undefined) {
      if (this.lettered.has(id)) return;
      this.lettered.add(id);
    }
    this.pending.push(w);
    if (this.scheduled) return;
    this.scheduled = true;
    // after the turn's I/O callbacks: every payment that answered in this turn has decided its letter
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const sent = sendLetters(this.ctx, this.pending);
    this.pending = [];
    // awaited by done(); this only keeps a failure before then from counting as unhandled
    sent.catch(() => {});
    this.sends.push(sent);
  };

  /** Every letter of the batch acknowledged and marked; rejects if one was not (the batch is then delivered again). */
  async done(): Promise<void> {
    this.flush();
    await Promise.all(this.sends);
  }
}

/** Write letters (acknowledged), count and log them, then mark the orders (replays skip them). */
async function sendLetters(ctx: OrderContext, dead: Work[]): Promise<void> {
  const { config, redis, metrics, log } = ctx;
  await ctx.dlq.send(
    dead.map((w) => ({
      ...buildDlqRecord(w.msg, w.dlq!.reason, w.dlq!.error, w.order),
      partition: ctx.dlqPartitions ? w.msg.partition % ctx.dlqPartitions : undefined,
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
  const marks = dead.filter((w) => w.order && MARKED.has(w.dlq!.reason));
  await Promise.all(
    marks.map((w) =>
      ctx
        .retry('mark dlq_at', () =>
          redis.hset(
            itemKeys(config.sale, w.order!.item_id).order(w.order!.order_id),
            ORDER_FIELDS.dlqAt,
            String(Date.now()),
          ),
        )
        .catch((e) => log.warn({ err: e, order_id: w.order!.order_id }, 'could not mark the order as dead-lettered')),
    ),
  );
}
