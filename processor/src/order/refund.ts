/**
 * Order stage 3b, refund: a payment that landed after its hold expired leaves the order EXPIRED with reason
 * `paid_after_expiry` (the confirm found the hold expired, or the sweeper had expired it: its units went back to
 * stock). That record is the durable note that a refund is owed: the provider refunds (its idempotency key is the
 * order id, so a second call after a crash refunds nothing more), then the order becomes REFUNDED by compare-and-set
 * in its own slot (lua/order_refund.lua). A redelivered order finds REFUNDED and is not refunded again, so
 * processor_refunds_total counts each refund once. A refund the provider does not do is dead-lettered as
 * `hold_expired`: someone must refund by hand, or redrive the letter (its replay tries the refund again).
 */
import { markRefunded, PAID_AFTER_EXPIRY } from '@flashsale/common';
import { refundWithTimeout } from '../payment.ts';
import type { OrderContext } from './context.ts';
import { fail, finish, type Work } from './work.ts';

/** Refund an order that is EXPIRED with reason paid_after_expiry; `replay`: the order's message came again (a crash,
 * or a redriven `hold_expired` letter). */
export async function refund(ctx: OrderContext, w: Work, replay: boolean): Promise<void> {
  const { config, redis, metrics, clock } = ctx;
  const o = w.order!;
  const res = await ctx.paymentSlots.run(() =>
    refundWithTimeout(
      ctx.payment,
      { orderId: o.order_id, userId: o.user_id, itemId: o.item_id, quantity: o.quantity },
      config.payment.timeoutMs,
    ),
  );
  if (!res.ok) {
    // always a letter, also on a replay: a redriven letter whose refund fails again must not vanish (a second letter
    // after a crash is harmless: its replay refunds once)
    fail(ctx, w, 'hold_expired', `payment succeeded after the hold expired; the refund failed: ${res.error}`, true);
    return finish(ctx, w, replay ? 'EXPIRED (replay, refund failed)' : 'EXPIRED (refund failed)');
  }
  const r = await ctx.retry('refund', () => markRefunded(redis, config.sale, o.item_id, o.order_id, clock.now()));
  if (r.outcome === 'refunded') {
    metrics.refunds.inc({ reason: PAID_AFTER_EXPIRY });
    return finish(ctx, w, 'REFUNDED');
  }
  return finish(ctx, w, `${r.status} (${r.outcome === 'replay' ? 'replay' : 'no refund due'})`);
}
