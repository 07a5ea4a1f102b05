/**
 * Order stage 2b, reserve a bucketed item: an item seeded over K > 1 stock buckets (K read once per item, then
 * cached: ../buckets.ts) is reserved through the bucket steps (claim, take, commit: common/src/buckets.ts), in a lane
 * of its own beside the plain pipeline and the other hot items' lanes. In message order: (0) after a sold-out answer,
 * while every bucket reads empty, the next orders are answered SOLD_OUT at once (one parallel read of the K levels,
 * then one pipelined home-slot script per order with the same dedupe and per-user limit), so a backlog drains fast;
 * (1) the claims of the rest at once (dedupe and per-user limit, one pipeline to the home slot); (2) the takes one
 * order after the other (first come, first served: units go to earlier orders first), each commit sent as soon as its
 * take answered, without waiting; (3) the commits awaited. Because the claims run ahead, an order's per-user check
 * counts the same user's earlier orders of the batch even if they end SOLD_OUT. A transient failure moves that order
 * and the item's later ones to the next round together (their claims resume there), so a bucketed item is never
 * reordered.
 */
import {
  type BucketReserveResult,
  bucketLevels,
  claimBucketed,
  commitBucketed,
  ORDER_STATUSES,
  publishIfSoldOut,
  type ReserveResult,
  refuseSoldOut,
  takeBucketed,
} from '@flashsale/common';
import type { OrderContext } from './context.ts';
import { inputOf, type Work } from './work.ts';

/** The reserve round a lane runs in (./reserve.ts). */
export interface LaneRound {
  /** a transient error, and rounds are left */
  retriable(e: unknown): boolean;
  /** defer the order to the next round, or give up on it (dead letter) */
  failed(w: Work, e: unknown): void;
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

export class BucketLanes {
  private readonly ctx: OrderContext;
  /** bucketed items whose last answer was SOLD_OUT: their next orders first read the buckets (refusable) */
  private readonly soldOut = new Set<string>();
  constructor(ctx: OrderContext) {
    this.ctx = ctx;
  }

  /** How many of `next` (in order) no bucket of the item can serve now: one parallel read of the K levels. */
  private async refusable(item: string, k: number, next: Work[]) {
    const most = Math.max(...(await bucketLevels(this.ctx.redis, this.ctx.config.sale, item, k)));
    let n = 0;
    while (n < next.length && next[n]!.order!.quantity > most) n++;
    return n;
  }

  /** One item's orders of this round, in message order; a reserved order's settle starts at once. */
  async run(list: Work[], round: LaneRound, startSettle: (w: Work) => void): Promise<void> {
    const { redis, config, clock } = this.ctx;
    const soldOut = this.soldOut;
    const item = list[0]!.order!.item_id;
    const k = list[0]!.k!;
    const failed = round.failed;
    /** true when the lane stops: a transient failure moved list[from..] to the next round */
    const stop = (from: number, e: unknown) => {
      if (round.retriable(e)) {
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
        n = await this.refusable(item, k, list.slice(at));
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
  }
}
