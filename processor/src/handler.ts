/**
 * Order handling, independent of the Kafka client: one partition's batch in, durable effects out. A batch goes
 * through the stages of ./order/, each a module named for its step:
 *
 * 1. decode: every message validated; poison -> DLQ `invalid_order_format`, never blocks the partition;
 * 2. reserve: one script call per plain item (its orders in message order) and one lane per item over stock buckets
 *    (reserve-lane.ts), with one retry budget per batch (retry-policy.ts);
 * 3. settle: each hold paid as soon as it is taken (bounded), then confirmed or released by compare-and-set, the holds
 *    of an item that settle together in one call (settle-batch.ts); a payment after the hold expired is refunded
 *    (refund.ts);
 * 4. answer: the reserves that took no hold now (refusals, replays of final orders);
 * 5. dead letters: each order's sent with its final word (with the others of that turn), all acknowledged before the
 *    handler returns; only then does the caller commit the offsets.
 */
import type { InMessage } from './consumer.ts';
import { answerReserves } from './order/answer.ts';
import { type HandlerDeps, orderContext } from './order/context.ts';
import { BatchLetters } from './order/dead-letters.ts';
import { decode } from './order/decode.ts';
import { createReserve } from './order/reserve.ts';
import { Settlements } from './order/settle.ts';

export type { HandlerDeps } from './order/context.ts';
export { buildDlqRecord } from './order/dead-letters.ts';

export function createHandler(deps: HandlerDeps) {
  const ctx = orderContext(deps);
  const reserve = createReserve(ctx);
  return async function handleBatch(messages: InMessage[]): Promise<void> {
    const letters = new BatchLetters(ctx);
    const work = decode(ctx, messages, letters);
    const valid = work.filter((w) => w.order);
    const settlements = new Settlements(ctx);
    await reserve(valid, settlements.start);
    await answerReserves(ctx, valid, settlements.start);
    await settlements.done();
    await letters.done();
  };
}
