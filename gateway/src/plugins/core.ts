/** Correlation ids, the one error shape, 404s. */
import type { FastifyInstance } from 'fastify';
import { type GatewayContext, global } from '../context.ts';
import { ApiError, sendError, toApiError } from '../errors.ts';

export const corePlugin = (ctx: GatewayContext) =>
  global(async (app: FastifyInstance) => {
    // JSON only: a text/plain body is refused with 415 instead of reaching validation as a string.
    app.removeContentTypeParser('text/plain');
    app.addHook('onRequest', async (req, reply) => {
      reply.header('X-Correlation-ID', req.id);
    });
    app.setErrorHandler((err, req, reply) => {
      const api = toApiError(err);
      if (api.status === 500) req.log.error({ event: 'request_failed', err, code: api.code }, 'Request failed');
      else if (api.status >= 500) req.log.warn({ event: 'request_refused', code: api.code }, api.message);
      return sendError(req, reply, api);
    });
    app.setNotFoundHandler((req, reply) => {
      return sendError(req, reply, new ApiError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
    });
    void ctx;
  });
