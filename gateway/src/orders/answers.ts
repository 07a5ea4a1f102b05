/**
 * Order step 4's last write: the 202s of the orders Kafka acknowledged, stored for replays (common/src/order.ts
 * storeOrderAnswers). The orders of one acknowledgement finish in the same turn of the event loop, so their answers
 * go to Redis as one script call per item instead of one SET each: the SET's client-side cost was a tenth of the
 * gateway's CPU per order (docs/benchmarks.md, issue 17). The call is made once that turn's callbacks have run
 * (process.nextTick), before ioredis writes its pipeline (setImmediate), so it reaches Redis ahead of any retry that
 * follows the 202 on the same connection, as a SET made in the handler did.
 */
import { type OrderAnswer, type RedisClient, storeOrderAnswers, TurnBatch } from '@flashsale/common';

export class AnswerStore {
  /** item -> answers of this turn */
  private readonly batch: TurnBatch<OrderAnswer>;

  constructor(redis: RedisClient, opts: { sale: string; ttlMs: number }) {
    this.batch = new TurnBatch(process.nextTick, (itemId, answers) => {
      storeOrderAnswers(redis, { sale: opts.sale, itemId, ttlMs: opts.ttlMs, answers }).catch(() => 0);
    });
  }

  /** Not awaited: if the write fails, a retry finds the order record and is answered from it (docs/api.md). */
  add(itemId: string, answer: OrderAnswer): void {
    this.batch.add(itemId, answer);
  }
}
