/**
 * Order step 4's last write: the 202s of the orders Kafka acknowledged, stored for replays (common/src/order.ts
 * storeOrderAnswers). The orders of one acknowledgement finish in the same turn of the event loop, so their answers
 * go to Redis as one script call per item instead of one SET each: the SET's client-side cost was a tenth of the
 * gateway's CPU per order (docs/benchmarks.md, issue 17). The call is made once that turn's callbacks have run
 * (process.nextTick), before ioredis writes its pipeline (setImmediate), so it reaches Redis ahead of any retry that
 * follows the 202 on the same connection, as a SET made in the handler did.
 */
import { type OrderAnswer, type RedisClient, storeOrderAnswers } from '@flashsale/common';

export class AnswerStore {
  private readonly redis: RedisClient;
  private readonly sale: string;
  private readonly ttlMs: number;
  /** item -> answers of this turn */
  private pending = new Map<string, OrderAnswer[]>();
  private scheduled = false;

  constructor(redis: RedisClient, opts: { sale: string; ttlMs: number }) {
    this.redis = redis;
    this.sale = opts.sale;
    this.ttlMs = opts.ttlMs;
  }

  /** Not awaited: if the write fails, a retry finds the order record and is answered from it (docs/api.md). */
  add(itemId: string, answer: OrderAnswer): void {
    const list = this.pending.get(itemId);
    if (list) list.push(answer);
    else this.pending.set(itemId, [answer]);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.pending;
    this.pending = new Map();
    for (const [itemId, answers] of items) {
      storeOrderAnswers(this.redis, { sale: this.sale, itemId, ttlMs: this.ttlMs, answers }).catch(() => 0);
    }
  }
}
