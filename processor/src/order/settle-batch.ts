/**
 * Holds of plain items settled together: the confirms and releases asked for in the same turn of the event loop (the
 * payments that answered together) go out as one script call per item (lua/inventory_settle.lua, at most SETTLE_CHUNK
 * holds each) instead of one per order. Each hold still settles by its own compare-and-set, so a hold settled twice is
 * a replay, exactly as one call per order would answer. A call that fails fails each of its holds; the caller's retry
 * policy asks again (./retry-policy.ts).
 */
import { type RedisClient, type SettleInput, type SettleResult, settleMany } from '@flashsale/common';
import type { Clock } from '../clock.ts';

/** Holds of one item per settle call at most: bounds how long one script holds Redis. */
export const SETTLE_CHUNK = 128;

interface Waiting {
  input: SettleInput;
  resolve(r: SettleResult): void;
  reject(e: unknown): void;
}

export class SettleBatcher {
  private pending = new Map<string, Waiting[]>();
  private scheduled = false;
  private readonly redis: RedisClient;
  private readonly sale: string;
  private readonly clock: Clock;
  constructor(redis: RedisClient, sale: string, clock: Clock) {
    this.redis = redis;
    this.sale = sale;
    this.clock = clock;
  }

  /** Confirm or release one hold of `item`; sent with the others asked for in this turn. */
  settle(item: string, input: SettleInput): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      const list = this.pending.get(item);
      if (list) list.push({ input, resolve, reject });
      else this.pending.set(item, [{ input, resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        // after the timers and I/O callbacks of this turn: every payment that answered now is in
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    const now = this.clock.now();
    for (const [item, list] of batch) {
      for (let i = 0; i < list.length; i += SETTLE_CHUNK) {
        const chunk = list.slice(i, i + SETTLE_CHUNK);
        settleMany(
          this.redis,
          this.sale,
          item,
          chunk.map((w) => w.input),
          now,
        ).then(
          (res) => {
            for (const [j, w] of chunk.entries()) w.resolve(res[j]!);
          },
          (e) => {
            for (const w of chunk) w.reject(e);
          },
        );
      }
    }
  }
}
