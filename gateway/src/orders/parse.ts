/**
 * Order step 1, the request: the body (`/v1/orders` or the original `/buy`) and the idempotency key. The route's zod
 * schemas (route-schemas.ts) have already validated both, with the same schemas as the OpenAPI document, and applied
 * their defaults; what is left are the rules across parts of a request: one idempotency key (the Idempotency-Key
 * header or the body's request_id, equal when both) and the buyer (the authenticated identity when there is one,
 * `req.buyer`, plugins/identity.ts; else the body's user_id).
 */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ApiError } from '../errors.ts';
import type { buyBodyAuthenticated, createOrderBodyAuthenticated } from '../schemas.ts';

export interface OrderRequest {
  userId: string;
  itemId: string;
  quantity: number;
  /** the idempotency key: the Idempotency-Key header or the body's request_id */
  key: string;
}

/** Any of the four order bodies, as the route's schema left it (the authenticated ones only make user_id optional). */
type OrderBody = z.output<typeof createOrderBodyAuthenticated> | z.output<typeof buyBodyAuthenticated>;

function invalid(path: string, message: string): ApiError {
  return new ApiError('VALIDATION_FAILED', 'the request is not valid', { errors: [{ path, message }] });
}

export function parseOrder(req: FastifyRequest): OrderRequest {
  const h = req.headers['idempotency-key'];
  const headerKey = Array.isArray(h) ? h[0] : h;
  const b = req.body as OrderBody;
  const quantity = 'amount' in b ? b.amount : b.quantity;
  if (b.request_id !== undefined && headerKey !== undefined && b.request_id !== headerKey) {
    throw invalid('body.request_id', 'differs from the Idempotency-Key header');
  }
  const key = headerKey ?? b.request_id;
  if (key === undefined) {
    throw invalid('header.Idempotency-Key', 'an Idempotency-Key header or a request_id is required');
  }
  const buyer = req.buyer;
  if (buyer !== null && b.user_id !== undefined && b.user_id !== buyer) {
    throw new ApiError('USER_MISMATCH', `body.user_id "${b.user_id}" is not the authenticated buyer "${buyer}"`, {
      errors: [{ path: 'body.user_id', message: 'differs from the authenticated buyer' }],
    });
  }
  // the body schema requires user_id when the identity comes from the body (route-schemas.ts identityRouteSchemas)
  return { userId: buyer ?? (b.user_id as string), itemId: b.item_id, quantity, key };
}
