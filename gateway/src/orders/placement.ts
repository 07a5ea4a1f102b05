/**
 * Order step 4, placement: the admitted order goes to Kafka (`send` resolves only after acks=all); then its 202 is
 * stored for replays (answers.ts: one script call per item for the orders of one acknowledgement, not awaited:
 * commands on one connection and one slot run in order, so a retry that arrives after the 202 finds it). When Kafka
 * does not acknowledge, the QUEUED record this request created is deleted (lua/order_cancel.lua) so the client's
 * retry with the same key starts afresh.
 */
import { callScript, itemKeys, type OrderMessage, type RedisClient } from '@flashsale/common';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { BreakerOpenError } from '../kafka/breaker.ts';
import type { OrderProducer } from '../kafka/producer.ts';
import { AnswerStore } from './answers.ts';
import type { OrderRequest } from './parse.ts';

export class Placement {
  private readonly redis: RedisClient;
  private readonly producer: OrderProducer;
  private readonly sale: string;
  private readonly answers: AnswerStore;
  private readonly log: Logger;

  constructor(redis: RedisClient, producer: OrderProducer, opts: { sale: string; answerTtlMs: number }, log: Logger) {
    this.redis = redis;
    this.producer = producer;
    this.sale = opts.sale;
    this.answers = new AnswerStore(redis, { sale: opts.sale, ttlMs: opts.answerTtlMs });
    this.log = log;
  }

  /** Send the order; on failure cancel its record and throw 503 BROKER_UNAVAILABLE. */
  async send(o: OrderRequest, orderId: string, correlationId: string, now: number): Promise<void> {
    const msg: OrderMessage = {
      v: 1,
      order_id: orderId,
      sale: this.sale,
      item_id: o.itemId,
      user_id: o.userId,
      quantity: o.quantity,
      request_id: o.key,
      correlation_id: correlationId,
      created_at: new Date(now).toISOString(),
    };
    try {
      await this.producer.send(msg);
    } catch (e) {
      await callScript(
        this.redis,
        'order_cancel',
        [itemKeys(this.sale, o.itemId).order(orderId)],
        [correlationId],
      ).catch(() => 0);
      this.log.warn(
        {
          event: 'order_not_queued',
          err: (e as Error).message,
          order_id: orderId,
          breaker: this.producer.breakerState,
        },
        'Kafka did not acknowledge the order',
      );
      throw brokerUnavailable(e instanceof BreakerOpenError ? e.retryAfterMs : 1000);
    }
  }

  /** Store the 202 for replays; not awaited (if it fails, a retry finds the record and is answered from it). */
  storeAnswer(o: OrderRequest, orderId: string, body: string): void {
    this.answers.add(o.itemId, { orderId, quantity: o.quantity, body });
  }
}

export function brokerUnavailable(retryAfterMs: number): ApiError {
  return new ApiError('BROKER_UNAVAILABLE', 'orders cannot be queued right now; retry later with the same key', {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  });
}
