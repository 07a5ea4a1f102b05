/** One order's record through the stages of a batch, and how its final word reaches the metrics and the log. */
import {
  DLQ_HEADERS,
  type DlqReason,
  type OrderMessage,
  type ReserveInput,
  type ReserveResult,
} from '@flashsale/common';
import type { InMessage } from '../consumer.ts';
import type { OrderContext } from './context.ts';
import type { BatchLetters } from './dead-letters.ts';

export interface Work {
  msg: InMessage;
  started: number;
  /** the batch's dead letters: the order's own leaves with its final word */
  letters: BatchLetters;
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

/** The order's final word: counted, timed and logged once; its dead letter, if it has one, is sent. */
export function finish(ctx: OrderContext, w: Work, outcome: string): void {
  w.outcome = outcome;
  w.letters.post(w);
  const ms = Date.now() - w.started;
  ctx.metrics.processed.inc();
  ctx.metrics.duration.observe(ms / 1000);
  // the log line's object is built only when it is written (one per order: at LOG_LEVEL warn it costs nothing)
  if (ctx.logsOrders)
    ctx.log.info(
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
}

/** A failure, counted by reason; with `dlq` the order gets a dead letter (./dead-letters.ts). */
export function fail(ctx: OrderContext, w: Work, reason: DlqReason | 'limit_exceeded', error: string, dlq: boolean) {
  ctx.metrics.failed.inc({ reason });
  if (dlq) w.dlq = { reason: reason as DlqReason, error };
}

/** The reserve scripts' view of a decoded order. */
export function inputOf(w: Work): ReserveInput {
  const o = w.order!;
  return {
    orderId: o.order_id,
    itemId: o.item_id,
    userId: o.user_id,
    quantity: o.quantity,
    correlationId: o.correlation_id,
    requestId: o.request_id,
  };
}
