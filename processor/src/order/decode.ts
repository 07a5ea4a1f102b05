/**
 * Order stage 1, decode: every message of the batch becomes a Work; a message that is not an order of this sale is a
 * poison message, dead-lettered as `invalid_order_format` so it never blocks its partition.
 */
import { decodeOrder } from '@flashsale/common';
import type { InMessage } from '../consumer.ts';
import type { OrderContext } from './context.ts';
import type { BatchLetters } from './dead-letters.ts';
import { fail, finish, type Work } from './work.ts';

export function decode(ctx: OrderContext, messages: InMessage[], letters: BatchLetters): Work[] {
  const now = Date.now();
  const work: Work[] = messages.map((msg) => ({ msg, started: now, letters }));
  for (const w of work) {
    try {
      const o = decodeOrder(w.msg.value);
      if (o.sale !== ctx.config.sale)
        throw new Error(`order of sale "${o.sale}" on the topic of sale "${ctx.config.sale}"`);
      w.order = o;
    } catch (e) {
      fail(ctx, w, 'invalid_order_format', (e as Error).message, true);
      finish(ctx, w, 'INVALID');
    }
  }
  return work;
}
