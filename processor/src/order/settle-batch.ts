/**
 * Holds of plain items settled together: the confirms and releases asked for in the same turn of the event loop (the
 * payments that answered together) go out as one script call per item (lua/inventory_settle.lua, at most SETTLE_CHUNK
 * holds each) instead of one per order. Each hold still settles by its own compare-and-set, so a hold settled twice is
 * a replay, exactly as one call per order would answer. A call that fails fails each of its holds; the caller's retry
 * policy asks again (./retry-policy.ts).
 */
import {
  answerWaiters,
  type RedisClient,
  type SettleInput,
  type SettleResult,
  settleMany,
  TurnBatch,
  type Waiter,
  waitInBatch,
} from '@flashsale/common';
import type { Clock } from '../clock.ts';

/** Holds of one item per settle call at most: bounds how long one script holds Redis. */
export const SETTLE_CHUNK = 128;

export class SettleBatcher {
  private readonly batch: TurnBatch<Waiter<SettleInput, SettleResult>>;
  constructor(redis: RedisClient, sale: string, clock: Clock) {
    // after the timers and I/O callbacks of this turn: every payment that answered now is in
    this.batch = new TurnBatch(setImmediate, (item, waiters) => {
      const now = clock.now();
      for (let i = 0; i < waiters.length; i += SETTLE_CHUNK) {
        answerWaiters(waiters.slice(i, i + SETTLE_CHUNK), (holds) => settleMany(redis, sale, item, holds, now));
      }
    });
  }

  /** Confirm or release one hold of `item`; sent with the others asked for in this turn. */
  settle(item: string, input: SettleInput): Promise<SettleResult> {
    return waitInBatch(this.batch, item, input);
  }
}
