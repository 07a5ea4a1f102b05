/** Order step 1, validation: the body (`/v1/orders` or the original `/buy`) and the idempotency key, or 400. */
import type { FastifyRequest } from 'fastify';
import { ApiError, zodFieldErrors } from '../errors.ts';
import { buyBody, createOrderBody, idempotencyKeySchema } from '../schemas.ts';

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
  const body = (legacy ? buyBody : createOrderBody).safeParse(req.body);
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
  return { userId: b.user_id, itemId: b.item_id, quantity, key };
}
