/**
 * Order step 1, validation: the body (`/v1/orders` or the original `/buy`) and the idempotency key, or 400; the buyer
 * is the authenticated identity when there is one (`req.buyer`, plugins/identity.ts), else the body's user_id.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError, zodFieldErrors } from '../errors.ts';
import {
  buyBody,
  buyBodyAuthenticated,
  createOrderBody,
  createOrderBodyAuthenticated,
  idempotencyKeySchema,
} from '../schemas.ts';

export interface OrderRequest {
  userId: string;
  itemId: string;
  quantity: number;
  /** the idempotency key: the Idempotency-Key header or the body's request_id */
  key: string;
}

function headerValue(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parseOrder(req: FastifyRequest, legacy: boolean): OrderRequest {
  const headerKey = headerValue(req, 'idempotency-key');
  const errors: { path: string; message: string }[] = [];
  let key: string | undefined;
  if (headerKey !== undefined) {
    const k = idempotencyKeySchema.safeParse(headerKey);
    if (k.success) key = k.data;
    else errors.push(...zodFieldErrors(k.error, 'header.Idempotency-Key'));
  }
  const buyer = req.buyer;
  const schema =
    buyer === null
      ? legacy
        ? buyBody
        : createOrderBody
      : legacy
        ? buyBodyAuthenticated
        : createOrderBodyAuthenticated;
  const body = schema.safeParse(req.body);
  if (!body.success) errors.push(...zodFieldErrors(body.error, 'body'));
  if (errors.length > 0 || !body.success) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', { errors });
  }
  const b = body.data;
  const quantity = 'amount' in b ? b.amount : b.quantity;
  if (b.request_id !== undefined && key !== undefined && b.request_id !== key) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', {
      errors: [{ path: 'body.request_id', message: 'differs from the Idempotency-Key header' }],
    });
  }
  key = key ?? b.request_id;
  if (key === undefined) {
    throw new ApiError('VALIDATION_FAILED', 'the request is not valid', {
      errors: [{ path: 'header.Idempotency-Key', message: 'an Idempotency-Key header or a request_id is required' }],
    });
  }
  if (buyer !== null && b.user_id !== undefined && b.user_id !== buyer) {
    throw new ApiError('USER_MISMATCH', `body.user_id "${b.user_id}" is not the authenticated buyer "${buyer}"`, {
      errors: [{ path: 'body.user_id', message: 'differs from the authenticated buyer' }],
    });
  }
  return { userId: buyer ?? (b.user_id as string), itemId: b.item_id, quantity, key };
}
