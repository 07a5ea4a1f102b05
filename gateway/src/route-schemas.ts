/**
 * The schemas of every route, declared once: fastify validates requests with them (the zod type provider's
 * validatorCompiler, set in app.ts), serializes object answers with them (its serializerCompiler), and the OpenAPI
 * document is generated from them (@fastify/swagger, openapi.ts). Docs and validation cannot drift: there is no
 * second copy. Rules across parts of a request (an Idempotency-Key header or a body request_id, equal when both) stay
 * in the handler (orders/parse.ts) and are stated in the descriptions.
 */
import { API_ERRORS } from '@flashsale/common';
import { z } from 'zod';
import type { IdentityConfig } from './identity/buyer.ts';
import {
  apiErrorSchema,
  buyBody,
  buyBodyAuthenticated,
  createOrderBody,
  createOrderBodyAuthenticated,
  healthView,
  idempotencyKeySchema,
  orderAccepted,
  orderIdParams,
  orderView,
  readyView,
  saleView,
} from './schemas.ts';

/** The paths of the order routes: the API's and the original engine's (plugins/orders.ts, plugins/metrics.ts). */
export const ORDER_ROUTES = { createOrder: '/v1/orders', buy: '/buy' } as const;

type Code = keyof typeof API_ERRORS;
const codesOf = (status: number) =>
  (Object.entries(API_ERRORS) as [Code, number][]).filter(([, s]) => s === status).map(([c]) => c);

/** Response headers, documented on the responses that carry them. */
const integer = (description: string) => z.int().min(0).meta({ description });
const rateLimitHeaders = {
  'RateLimit-Limit': integer('bucket capacity (burst)'),
  'RateLimit-Remaining': integer('whole tokens left'),
  'RateLimit-Reset': integer('seconds until the bucket is full again'),
  'RateLimit-Policy': z.string().meta({ description: 'limit;w=window;policy="name"' }),
};
const retryAfter = { 'Retry-After': integer('seconds') };

type Headers = Record<string, z.ZodType>;
/** One documented answer: a description, a JSON body, the headers it carries. */
const answer = (description: string, schema: z.ZodType, headers?: Headers) => ({
  description,
  content: { 'application/json': { schema } },
  ...(headers ? { headers } : {}),
});
/** An error answer: the API's error shape; the description names the codes of that status (API_ERRORS). */
const error = (status: number, when: string, headers?: Headers, codes: Code[] = codesOf(status)) =>
  answer(`${codes.join(' | ')}: ${when}`, apiErrorSchema, headers);

const orderHeaders = z.looseObject({
  'idempotency-key': idempotencyKeySchema
    .optional()
    .meta({ description: 'required unless the body has request_id (both: they must be equal); keyed per user' }),
  'x-correlation-id': z.string().optional().meta({
    description:
      'echoed in the response and carried to Kafka when 1-128 characters of A-Za-z0-9._:-; a new one otherwise',
  }),
});

const orderAnswers = {
  202: answer(
    'accepted: the broker acknowledged the order (a replay carries Idempotent-Replayed: true)',
    orderAccepted,
    {
      ...rateLimitHeaders,
      Location: z.string().meta({ description: '/v1/orders/{order_id}' }),
      'Idempotent-Replayed': z.literal('true').meta({ description: 'on a replay of a completed request' }),
    },
  ),
  400: error(400, 'per-field errors in `errors`; also a missing idempotency key, or a request_id unlike the header'),
  403: error(403, 'before the sale starts (Retry-After: seconds until the start)', retryAfter, ['SALE_NOT_STARTED']),
  404: error(404, 'the item is not part of the sale'),
  409: error(409, 'sold out, above the per-user limit, or the same key still in flight (Retry-After: 1)', retryAfter),
  410: error(410, 'after the sale ended'),
  413: error(413, 'body above BODY_LIMIT'),
  415: error(415, 'a body that is not application/json'),
  422: error(422, 'the same key with a different request'),
  429: error(429, 'a token bucket is empty', { ...rateLimitHeaders, ...retryAfter }),
  503: error(503, 'Kafka did not acknowledge or the breaker is open (the key is freed), or Redis is away', retryAfter),
};

const readAnswers = {
  400: error(400, 'the order id is not valid'),
  404: error(404, 'no such order'),
  429: error(429, 'the per-IP read bucket is empty', { ...rateLimitHeaders, ...retryAfter }),
  503: error(503, 'Redis is away', retryAfter),
};

/** The security scheme a route requires, by identity source (the document's components.securitySchemes). */
export const SECURITY_SCHEMES = {
  jwt: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
  header: (name: string) => ({
    authenticatingProxy: {
      type: 'apiKey' as const,
      in: 'header',
      name,
      description: 'set by the authenticating proxy; honoured only from a trusted proxy (TRUSTED_PROXIES)',
    },
  }),
} as const;

/**
 * The order and status routes as the buyer's identity shapes them (IDENTITY_SOURCE): with `body` the body's user_id
 * is required and the status routes are open to anyone with the order id; with `header` or `jwt` every one of them
 * requires the identity (401), user_id in a body is optional and must be the buyer (403 USER_MISMATCH), and an order
 * of another buyer is answered 404 as if it did not exist.
 */
export function identityRouteSchemas(identity: IdentityConfig) {
  const on = identity.source !== 'body';
  const security = identity.source === 'jwt' ? [{ bearerAuth: [] }] : on ? [{ authenticatingProxy: [] }] : undefined;
  const secured = security ? { security } : {};
  const unauthenticated = on
    ? {
        401:
          identity.source === 'jwt'
            ? error(
                401,
                'no bearer token, or one refused (signature, issuer, audience, algorithm, expiry); the message says why',
                { 'WWW-Authenticate': z.string().meta({ description: 'RFC 6750: Bearer error="invalid_token", ...' }) },
              )
            : error(401, 'no identity header, or one from an untrusted hop', undefined, ['UNAUTHENTICATED']),
      }
    : {};
  const orders = on
    ? {
        ...orderAnswers,
        ...unauthenticated,
        403: error(403, 'before the sale starts (Retry-After), or a body user_id that is not the buyer', retryAfter),
      }
    : orderAnswers;
  const reads = on
    ? { ...readAnswers, ...unauthenticated, 404: error(404, "no such order, or another buyer's (not told apart)") }
    : readAnswers;
  return {
    createOrder: {
      summary: 'Place an order',
      description:
        'An Idempotency-Key header or a request_id in the body is required; when both are sent they must agree.',
      headers: orderHeaders,
      body: on ? createOrderBodyAuthenticated : createOrderBody,
      response: orders,
      ...secured,
    },
    buy: {
      summary: "Place an order (the original engine's body; compatibility alias)",
      description: 'request_id is required; an Idempotency-Key header, when sent, must be equal to it.',
      headers: orderHeaders,
      body: on ? buyBodyAuthenticated : buyBody,
      response: orders,
      ...secured,
    },
    orderStatus: {
      summary: on ? "Current status of one of the buyer's orders" : 'Current status of an order',
      params: orderIdParams,
      response: { 200: answer('the order', orderView), ...reads },
      ...secured,
    },
    orderEvents: {
      summary: 'Status changes as Server-Sent Events (event: status, data: OrderView) until a final status',
      params: orderIdParams,
      response: {
        200: { description: 'event stream', content: { 'text/event-stream': { schema: z.string() } } },
        ...reads,
      },
      ...secured,
    },
  };
}

export const routeSchemas = {
  ...identityRouteSchemas({ source: 'body' }),
  sale: {
    summary: 'The sale window, its state and remaining stock per item (cached)',
    response: {
      200: answer('the sale', saleView),
      429: readAnswers[429],
      503: error(503, 'the read bucket cannot be checked (RATE_LIMIT_FAIL_OPEN=false)', retryAfter),
    },
  },
  health: {
    summary: "The runbook's health JSON",
    response: { 200: answer('healthy', healthView), 503: answer('unhealthy', healthView) },
  },
  ready: {
    summary: 'Readiness: Redis and Kafka checked in parallel (bounded by HEALTH_CHECK_TIMEOUT)',
    response: { 200: answer('ready', readyView), 503: answer('not ready (also while shutting down)', readyView) },
  },
  livez: {
    summary: 'Liveness: the process answers (no dependency checks)',
    response: { 200: answer('ok', z.object({ status: z.literal('ok') })) },
  },
  metrics: {
    summary: 'Prometheus metrics',
    response: { 200: { description: 'text exposition format', content: { 'text/plain': { schema: z.string() } } } },
  },
  openapi: {
    summary: 'This document',
    response: { 200: answer('OpenAPI 3.1', z.looseObject({ openapi: z.string() })) },
  },
} as const;
