/**
 * Order stage 3, settle: a reserved order is paid (bounded by the payment slots, with the payment timeout), then its
 * hold is confirmed or released by compare-and-set: for a plain item together with the holds of the item that settle at
 * the same moment (one script call, ./settle-batch.ts), for an item over K > 1 stock buckets
 * settleBucketed (which gives failed units back to their bucket exactly once), its outcomes named as the plain ones.
 * A payment that landed after the hold expired is refunded (./refund.ts).
 * Settles run concurrently; `Settlements` starts them as soon as a hold is taken (its clock runs from the reserve)
 * and is awaited before the dead letters.
 */
import { type OrderMessage, settleBucketed } from '@flashsale/common';
import { chargeWithTimeout } from '../payment.ts';
import type { OrderContext } from './context.ts';
import { dlqIfUnmarked } from './dead-letters.ts';
import { refund } from './refund.ts';
import { isTransientRedisError } from './retry-policy.ts';
import { fail, finish, type Work } from './work.ts';

async function confirmOf(ctx: OrderContext, o: OrderMessage, k: number) {
  const { redis, config, clock } = ctx;
  if (k <= 1) return ctx.settles.settle(o.item_id, { orderId: o.order_id, final: 'CONFIRMED', reason: '' });
  const c = await settleBucketed(redis, config.sale, o.item_id, o.order_id, 'CONFIRMED', '', k, clock.now());
  return { status: c.status, outcome: c.outcome === 'settled' ? 'confirmed' : c.outcome };
}

async function releaseOf(ctx: OrderContext, o: OrderMessage, k: number, reason: string) {
  const { redis, config, clock } = ctx;
  if (k <= 1) return ctx.settles.settle(o.item_id, { orderId: o.order_id, final: 'PAYMENT_FAILED', reason });
  const c = await settleBucketed(redis, config.sale, o.item_id, o.order_id, 'PAYMENT_FAILED', reason, k, clock.now());
  return { status: c.status, outcome: c.outcome === 'settled' ? 'released' : c.outcome };
}

/** Pay one reserved order, then confirm or release its hold. */
export async function settle(ctx: OrderContext, w: Work): Promise<void> {
  const { config, metrics } = ctx;
  const o = w.order!;
  const pay = await ctx.paymentSlots.run(() =>
    chargeWithTimeout(
      ctx.payment,
      { orderId: o.order_id, userId: o.user_id, itemId: o.item_id, quantity: o.quantity },
      config.payment.timeoutMs,
    ),
  );
  if (pay.ok) {
    const c = await ctx.retry('confirm', () => confirmOf(ctx, o, w.k ?? 1));
    if (c.outcome === 'confirmed') {
      metrics.success.inc();
      return finish(ctx, w, 'CONFIRMED');
    }
    if (c.outcome === 'replay') return finish(ctx, w, 'CONFIRMED (replay)');
    // paid, but the hold expired first: the stock went back, the order is marked paid_after_expiry: refund it
    if (c.outcome === 'expired') return refund(ctx, w, false);
    // paid, but another final status won (not expected): someone must look at it and refund
    fail(ctx, w, 'hold_expired', `payment succeeded but the order is ${c.status}`, true);
    return finish(ctx, w, c.status);
  }
  const r = await ctx.retry('release', () => releaseOf(ctx, o, w.k ?? 1, pay.reason));
  if (r.outcome === 'released') {
    fail(ctx, w, pay.reason, pay.error, true);
  } else if (r.outcome === 'replay') {
    await dlqIfUnmarked(ctx, w, pay.reason, pay.error);
  }
  return finish(ctx, w, r.status);
}

/** The batch's settles in flight: started one by one, awaited together; a failed settle is dead-lettered. */
export class Settlements {
  private readonly ctx: OrderContext;
  private readonly tasks: Promise<void>[] = [];
  constructor(ctx: OrderContext) {
    this.ctx = ctx;
  }
  readonly start = (w: Work): void => {
    w.settling = true;
    this.tasks.push(
      settle(this.ctx, w).catch((e) => {
        const transient = isTransientRedisError(e);
        fail(this.ctx, w, transient ? 'redis_failure' : 'processing_error', (e as Error).message, true);
        finish(this.ctx, w, 'SETTLE_FAILED');
      }),
    );
  };
  async done(): Promise<void> {
    await Promise.all(this.tasks);
  }
}
