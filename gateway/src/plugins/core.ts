/** Correlation ids, the one error shape, 404s. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type GatewayContext, global } from '../context.ts';
import { ApiError, sendError, toApiError } from '../errors.ts';

export const corePlugin = (ctx: GatewayContext) =>
  global(async (app: FastifyInstance) => {
    // JSON only: a text/plain body is refused with 415 instead of reaching validation as a string.
    app.removeContentTypeParser('text/plain');
    // callback hooks (here and in the other plugins): an async hook costs a promise and a microtask per request
    app.addHook('onRequest', (req, reply, done) => {
      reply.header('X-Correlation-ID', req.id);
      done();
    });
    app.setErrorHandler(handleError);
    app.setNotFoundHandler((req, reply) => {
      return sendError(req, reply, new ApiError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
    });
    void ctx;
  });

/** The error handler: any error becomes the API's error shape; 500s are logged with their stack. */
export function handleError(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const api = toApiError(err);
  if (api.status === 500) req.log.error({ event: 'request_failed', err, code: api.code }, 'Request failed');
  else if (api.status >= 500) req.log.warn({ event: 'request_refused', code: api.code }, api.message);
  return sendError(req, reply, api);
}
