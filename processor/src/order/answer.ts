/**
 * Order stage 4, answer: each reserve that took no hold in this batch gets its final word here. A hold not yet being
 * settled is settled; a refusal (SOLD_OUT, LIMIT_EXCEEDED, REJECTED unknown_item) is counted; a replay of an order
 * that was already final is finished again without new effects, except what a crash may have left undone: a
 * bucketed item's give-back (guarded by the take marker), a refund never recorded and a dead letter never marked as
 * written.
 */
import { isRefundDue, settleBucketed } from '@flashsale/common';
import type { OrderContext } from './context.ts';
import { dlqIfUnmarked, needsDlq } from './dead-letters.ts';
import { refund } from './refund.ts';
import { fail, finish, type Work } from './work.ts';

export async function answerReserves(ctx: OrderContext, valid: Work[], startSettle: (w: Work) => void) {
  const { config, redis, metrics, log, clock } = ctx;
  for (const w of valid) {
    const r = w.reserve;
    if (!r || w.settling) continue;
    if (r.remaining >= 0) ctx.onLevel?.(w.order!.item_id, r.remaining);
    if (r.status === 'RESERVED') {
      startSettle(w);
      continue;
    }
    if (r.replayed) {
      if ((w.k ?? 1) > 1 && (r.status === 'PAYMENT_FAILED' || r.status === 'EXPIRED')) {
        // a crash may have come between the settle and the give-back: repeat it (once: guarded by the take marker)
        const o = w.order!;
        await ctx
          .retry('give back', () =>
            settleBucketed(
              redis,
              config.sale,
              o.item_id,
              o.order_id,
              r.status as 'EXPIRED',
              r.reason,
              w.k!,
              clock.now(),
            ),
          )
          .catch((e) => log.warn({ err: e, order_id: o.order_id }, 'give-back on replay failed; the sweeper retries'));
      }
      // charged after the hold expired, and the refund not recorded (a crash, or a redriven letter): refund now (the
      // provider's idempotency key is the order id, so nothing is refunded twice)
      if (isRefundDue(r.status, r.reason)) {
        await refund(ctx, w, true);
        continue;
      }
      const reason = needsDlq(r.status, r.reason);
      if (reason) await dlqIfUnmarked(ctx, w, reason, `replayed order already ${r.status} (${r.reason})`);
      finish(ctx, w, `${r.status} (replay)`);
      continue;
    }
    if (r.status === 'SOLD_OUT') metrics.soldOut.inc();
    else if (r.status === 'LIMIT_EXCEEDED') fail(ctx, w, 'limit_exceeded', 'per-user limit reached', false);
    else if (r.status === 'REJECTED') fail(ctx, w, 'unknown_item', `item "${w.order!.item_id}" is not on sale`, true);
    finish(ctx, w, r.status);
  }
}
