/**
 * Order step 2, answered from this process alone (no Redis, no Kafka, no token taken): the sale window, an item outside
 * the sale, the sold-out flag, a quantity above the per-user limit.
 */
import { ApiError } from '../errors.ts';
import type { SaleState } from '../sale-state.ts';
import type { OrderRequest } from './parse.ts';

/** `sold-out`: refuse, unless the request is a retry of an order already accepted (the caller reads its answer). */
export type LocalCheck = { kind: 'pass'; perUserLimit: number } | { kind: 'sold-out' };

/** Throws the refusal (403, 410, 404, 409 LIMIT_EXCEEDED). */
export function checkLocally(sale: SaleState, o: OrderRequest, now: number): LocalCheck {
  const phase = sale.phase(now);
  if (phase === 'scheduled') {
    const startsAt = sale.startsAt ?? now;
    throw new ApiError('SALE_NOT_STARTED', `the sale starts at ${new Date(startsAt).toISOString()}`, {
      headers: { 'Retry-After': String(Math.max(1, Math.ceil((startsAt - now) / 1000))) },
    });
  }
  if (phase === 'ended') throw new ApiError('SALE_ENDED', 'the sale has ended');
  if (sale.isUnknownItem(o.itemId)) throw new ApiError('NOT_FOUND', `item "${o.itemId}" is not part of this sale`);
  if (sale.isSoldOut(o.itemId)) return { kind: 'sold-out' };
  const perUserLimit = sale.perUserLimit(o.itemId);
  if (perUserLimit > 0 && o.quantity > perUserLimit) throw limitExceeded(o.itemId, perUserLimit);
  return { kind: 'pass', perUserLimit };
}

export function limitExceeded(itemId: string, limit: number): ApiError {
  return new ApiError('LIMIT_EXCEEDED', `at most ${limit} unit(s) of "${itemId}" per user`);
}
