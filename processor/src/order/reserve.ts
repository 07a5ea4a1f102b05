/**
 * Order stage 2, reserve: one Lua call per item and round (at most RESERVE_CHUNK orders each) reserves that item's
 * orders in message order inside the script (lua/inventory_reserve.lua); the calls of all items go out at once, in
 * order on one connection per node, each answering as soon as it has run (not auto-pipelined: ../redis-client.ts), and
 * an item's orders, all in one slot, keep their order. An item over K > 1 stock buckets goes through its own lane instead
 * (./reserve-lane.ts). Orders whose call failed transiently are
 * re-issued together, still in message order, after a backoff: the batch has one retry budget (./retry-policy.ts),
 * then they are dead-lettered as `redis_failure`. Under a fault a retried plain order can land after a later order
 * of the same item that went through: the only reordering, and only under failure. A hold is paid as soon as its
 * reserve answered (`startSettle`), not after the other items' lanes.
 */
import { type ReserveResult, reserveMany } from '@flashsale/common';
import type { OrderContext } from './context.ts';
import { BucketLanes, type LaneRound } from './reserve-lane.ts';
import { Backoff, isTransientRedisError, RetryRound } from './retry-policy.ts';
import { fail, finish, inputOf, type Work } from './work.ts';

/** Orders of one item per reserve call at most: bounds how long one script holds Redis (about 10-20 µs an order). */
export const RESERVE_CHUNK = 128;

export function createReserve(ctx: OrderContext) {
  const { config, redis, log, clock, counts } = ctx;
  const lanes = new BucketLanes(ctx);

  /** Out of retries, or a permanent error: the order is dead-lettered. */
  const giveUp = (w: Work, e: unknown) => {
    const transient = isTransientRedisError(e);
    fail(ctx, w, transient ? 'redis_failure' : 'processing_error', (e as Error).message, true);
    finish(ctx, w, transient ? 'REDIS_FAILURE' : 'PROCESSING_ERROR');
  };

  /** K of every order's item (one read per item not seen yet, then cached); plain orders and one lane per hot item. */
  const split = async (pending: Work[], round: LaneRound) => {
    const unseen = [...new Set(pending.map((w) => w.order!.item_id).filter((i) => counts.peek(i) === undefined))];
    const looked = new Map<string, PromiseSettledResult<number>>();
    if (unseen.length > 0) {
      const res = await Promise.allSettled(unseen.map((i) => counts.get(i)));
      for (const [n, i] of unseen.entries()) looked.set(i, res[n]!);
    }
    const plain: Work[] = [];
    const bucketed = new Map<string, Work[]>();
    for (const w of pending) {
      const item = w.order!.item_id;
      const l = looked.get(item);
      const k = counts.peek(item) ?? (l?.status === 'fulfilled' ? l.value : undefined);
      if (k === undefined) {
        round.failed(w, (l as PromiseRejectedResult | undefined)?.reason ?? new Error('stock buckets unknown'));
        continue;
      }
      w.k = k;
      if (k <= 1) plain.push(w);
      else if (bucketed.has(item)) bucketed.get(item)!.push(w);
      else bucketed.set(item, [w]);
    }
    return { plain, bucketed };
  };

  /** One script call for `list` (orders of one item, in message order); a permanent error is retried order by order,
   *  so one bad order cannot fail the others. */
  const reserveChunk = async (list: Work[]): Promise<PromiseSettledResult<ReserveResult>[]> => {
    const item = list[0]!.order!.item_id;
    try {
      const res = await reserveMany(redis, config.sale, item, list.map(inputOf), config.holdTtlMs, clock.now());
      return res.map((value) => ({ status: 'fulfilled', value }));
    } catch (e) {
      if (list.length === 1 || isTransientRedisError(e)) return list.map(() => ({ status: 'rejected', reason: e }));
      return Promise.allSettled(
        list.map(
          async (w) => (await reserveMany(redis, config.sale, item, [inputOf(w)], config.holdTtlMs, clock.now()))[0]!,
        ),
      );
    }
  };

  /** The plain items' reserves: one call per item (and chunk), all at once; each hold is paid as soon as its item's
   *  call answered. */
  const reservePlain = async (plain: Work[], round: LaneRound, startSettle: (w: Work) => void) => {
    const byItem = new Map<string, Work[]>();
    for (const w of plain) {
      const list = byItem.get(w.order!.item_id);
      if (list) list.push(w);
      else byItem.set(w.order!.item_id, [w]);
    }
    const chunks: Work[][] = [];
    for (const list of byItem.values())
      for (let i = 0; i < list.length; i += RESERVE_CHUNK) chunks.push(list.slice(i, i + RESERVE_CHUNK));
    await Promise.all(
      chunks.map(async (list) => {
        const results = await reserveChunk(list);
        for (const [i, res] of results.entries()) {
          const w = list[i]!;
          if (res.status === 'rejected') {
            round.failed(w, res.reason);
            continue;
          }
          w.reserve = res.value;
          if (w.reserve.status === 'RESERVED') {
            ctx.onLevel?.(w.order!.item_id, w.reserve.remaining);
            startSettle(w);
          }
        }
      }),
    );
  };

  return async function reserve(valid: Work[], startSettle: (w: Work) => void): Promise<void> {
    const backoff = new Backoff(config.redisRetry);
    let pending = valid;
    for (let n = 1; pending.length > 0; n++) {
      const retry = new RetryRound<Work>(config.redisRetry, n);
      const round: LaneRound = {
        retriable: (e) => retry.retriable(e),
        failed: (w, e) => {
          if (!retry.defer(w, e)) giveUp(w, e);
        },
      };
      const { plain, bucketed } = await split(pending, round);
      await Promise.all([
        reservePlain(plain, round, startSettle),
        ...[...bucketed.values()].map((list) => lanes.run(list, round, startSettle)),
      ]);
      // the next round in message order
      pending = retry.again.sort((a, b) => Number(a.msg.offset) - Number(b.msg.offset));
      if (pending.length > 0) {
        log.warn(
          {
            event: 'redis_retry',
            what: 'reserve',
            round: n,
            orders: pending.length,
            err: (retry.lastError as Error)?.message,
          },
          'transient Redis error, retrying',
        );
        await backoff.wait();
      }
    }
  };
}
