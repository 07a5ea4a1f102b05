/**
 * Request and response schemas of the HTTP API, declared on the routes (route-schemas.ts): validation and the OpenAPI
 * document use the same ones. An `id` makes a schema a named component of the document.
 */
import {
  API_ERRORS,
  itemIdSchema,
  MAX_ORDER_QUANTITY,
  orderIdSchema,
  orderStatusSchema,
  orderViewSchema,
  userIdSchema,
} from '@flashsale/common';
import { z } from 'zod';

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'must be 1-128 printable ASCII characters without spaces');

const quantity = z.number().int().min(1).max(MAX_ORDER_QUANTITY);

export const createOrderBody = z
  .object({
    user_id: userIdSchema,
    item_id: itemIdSchema,
    quantity: quantity.default(1),
    request_id: idempotencyKeySchema.optional(),
  })
  .strict()
  .meta({ id: 'CreateOrder', description: 'Idempotency-Key header or request_id (one of them) is required' });

/** The original engine's body, kept as a compatibility alias. */
export const buyBody = z
  .object({
    user_id: userIdSchema,
    item_id: itemIdSchema,
    amount: quantity.default(1),
    request_id: idempotencyKeySchema,
  })
  .strict()
  .meta({ id: 'Buy' });

/**
 * The same bodies when the buyer is authenticated (IDENTITY_SOURCE header or jwt): user_id is optional and, when
 * sent, must be the authenticated buyer (403 USER_MISMATCH otherwise).
 */
const authenticatedUserId = userIdSchema
  .optional()
  .meta({ description: 'optional: the buyer is the authenticated identity; when sent it must be the same' });
export const createOrderBodyAuthenticated = createOrderBody
  .extend({ user_id: authenticatedUserId })
  .meta({ id: 'CreateOrderAuthenticated', description: 'Idempotency-Key header or request_id is required' });
export const buyBodyAuthenticated = buyBody.extend({ user_id: authenticatedUserId }).meta({ id: 'BuyAuthenticated' });

export const orderAccepted = z
  .object({
    order_id: orderIdSchema,
    status: orderStatusSchema,
    correlation_id: z.string(),
  })
  .meta({ id: 'OrderAccepted' });

export const orderIdParams = z.object({ order_id: orderIdSchema }).strict();

export const orderView = orderViewSchema.meta({ id: 'OrderView' });

export const saleView = z
  .object({
    sale: z.string(),
    state: z.enum(['scheduled', 'open', 'ended']),
    starts_at: z.string().nullable(),
    ends_at: z.string().nullable(),
    items: z.array(
      z.object({
        item_id: itemIdSchema,
        remaining: z.number().int(),
        sold_out: z.boolean(),
        per_user_limit: z.number().int(),
      }),
    ),
    updated_at: z.string().nullable(),
  })
  .meta({ id: 'Sale' });

export const apiErrorSchema = z
  .object({
    code: z.enum(Object.keys(API_ERRORS) as [keyof typeof API_ERRORS, ...(keyof typeof API_ERRORS)[]]),
    message: z.string(),
    correlation_id: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error' });

/** Only in read-only mode (after a sale): Kafka is not checked and does not count. */
const readOnlyMode = z
  .literal('read-only')
  .optional()
  .meta({ description: 'present after the sale (GATEWAY_MODE=read-only): order status only; Kafka not checked' });

export const healthView = z
  .object({
    status: z.enum(['healthy', 'unhealthy']),
    redis: z.boolean(),
    kafka: z.boolean(),
    circuit_breaker_state: z.enum(['closed', 'open', 'half-open']),
    mode: readOnlyMode,
  })
  .meta({ id: 'Health' });

export const readyView = z
  .object({ status: z.enum(['ready', 'not_ready']), redis: z.boolean(), kafka: z.boolean(), mode: readOnlyMode })
  .meta({ id: 'Ready' });
