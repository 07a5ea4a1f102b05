/** The OpenAPI 3.1 document, built from the same zod schemas the routes validate with. */
import { API_ERRORS } from '@flashsale/common';
import { z } from 'zod';
import {
  apiErrorSchema,
  buyBody,
  createOrderBody,
  healthView,
  orderAccepted,
  orderView,
  readyView,
  saleView,
} from './schemas.ts';

const NAMED: Record<string, [z.ZodType, 'input' | 'output']> = {
  CreateOrder: [createOrderBody, 'input'],
  Buy: [buyBody, 'input'],
  OrderAccepted: [orderAccepted, 'output'],
  OrderView: [orderView, 'output'],
  Sale: [saleView, 'output'],
  Error: [apiErrorSchema, 'output'],
  Health: [healthView, 'output'],
  Ready: [readyView, 'output'],
};

function components(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, [schema, io]] of Object.entries(NAMED)) {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
      string,
      unknown
    >;
    out[name] = rest;
  }
  return out;
}

const json = (name: keyof typeof NAMED & string) => ({
  'application/json': { schema: { $ref: `#/components/schemas/${name}` } },
});

const errorResponse = (description: string) => ({ description, content: json('Error') });

const rateLimitHeaders = {
  'RateLimit-Limit': { schema: { type: 'integer' }, description: 'bucket capacity (burst)' },
  'RateLimit-Remaining': { schema: { type: 'integer' }, description: 'whole tokens left' },
  'RateLimit-Reset': { schema: { type: 'integer' }, description: 'seconds until the bucket is full again' },
  'RateLimit-Policy': { schema: { type: 'string' }, description: 'limit;w=window;policy="name"' },
};
const retryAfter = { 'Retry-After': { schema: { type: 'integer' }, description: 'seconds' } };

const orderResponses = {
  '202': {
    description: 'accepted: the broker acknowledged the order (a replay carries Idempotent-Replayed: true)',
    headers: { ...rateLimitHeaders, 'Idempotent-Replayed': { schema: { type: 'string', enum: ['true'] } } },
    content: json('OrderAccepted'),
  },
  '400': errorResponse('VALIDATION_FAILED: per-field errors in `errors`'),
  '403': errorResponse('SALE_NOT_STARTED (Retry-After: seconds until the start)'),
  '404': errorResponse('NOT_FOUND: the item is not part of the sale'),
  '409': errorResponse('SOLD_OUT | LIMIT_EXCEEDED | DUPLICATE_IN_FLIGHT'),
  '410': errorResponse('SALE_ENDED'),
  '413': errorResponse('PAYLOAD_TOO_LARGE'),
  '415': errorResponse('UNSUPPORTED_MEDIA_TYPE'),
  '422': errorResponse('IDEMPOTENCY_KEY_REUSED: same key, different body'),
  '429': { ...errorResponse('RATE_LIMITED'), headers: { ...rateLimitHeaders, ...retryAfter } },
  '503': { ...errorResponse('BROKER_UNAVAILABLE | DEPENDENCY_UNAVAILABLE'), headers: retryAfter },
};

const idemHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'required unless the body has request_id; keyed per user',
  schema: { type: 'string', minLength: 1, maxLength: 128 },
};
const correlationHeader = {
  name: 'X-Correlation-ID',
  in: 'header',
  required: false,
  description: 'echoed in the response and carried to Kafka; generated when absent',
  schema: { type: 'string', maxLength: 128 },
};
const orderIdParam = { name: 'order_id', in: 'path', required: true, schema: { type: 'string' } };

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Flash Sale Engine gateway',
      version: '1.0.0',
      description: `Error codes and their status: ${Object.entries(API_ERRORS)
        .map(([c, s]) => `${c} ${s}`)
        .join(', ')}.`,
    },
    paths: {
      '/v1/orders': {
        post: {
          summary: 'Place an order',
          parameters: [idemHeader, correlationHeader],
          requestBody: { required: true, content: json('CreateOrder') },
          responses: orderResponses,
        },
      },
      '/buy': {
        post: {
          summary: "Place an order (the original engine's body; compatibility alias)",
          parameters: [correlationHeader],
          requestBody: { required: true, content: json('Buy') },
          responses: orderResponses,
        },
      },
      '/v1/orders/{order_id}': {
        get: {
          summary: 'Current status of an order',
          parameters: [orderIdParam],
          responses: {
            '200': { description: 'the order', content: json('OrderView') },
            '400': errorResponse('VALIDATION_FAILED'),
            '404': errorResponse('NOT_FOUND'),
            '429': errorResponse('RATE_LIMITED'),
          },
        },
      },
      '/v1/orders/{order_id}/events': {
        get: {
          summary: 'Status changes as Server-Sent Events (event: status, data: OrderView) until a final status',
          parameters: [orderIdParam],
          responses: {
            '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            '400': errorResponse('VALIDATION_FAILED'),
            '404': errorResponse('NOT_FOUND'),
            '429': errorResponse('RATE_LIMITED'),
          },
        },
      },
      '/v1/sale': {
        get: {
          summary: 'The sale window, its state and remaining stock per item (cached)',
          responses: { '200': { description: 'the sale', content: json('Sale') } },
        },
      },
      '/health': {
        get: {
          summary: "The runbook's health JSON",
          responses: {
            '200': { description: 'healthy', content: json('Health') },
            '503': { description: 'unhealthy', content: json('Health') },
          },
        },
      },
      '/ready': {
        get: {
          summary: 'Readiness: Redis and Kafka checked in parallel',
          responses: {
            '200': { description: 'ready', content: json('Ready') },
            '503': { description: 'not ready', content: json('Ready') },
          },
        },
      },
      '/livez': { get: { summary: 'Liveness (no dependency checks)', responses: { '200': { description: 'ok' } } } },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { '200': { description: 'text exposition format' } } },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
    components: { schemas: components() },
  };
}
