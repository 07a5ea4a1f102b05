/** The one error shape of the API: `{code, message, correlation_id, errors?}` with the status from API_ERRORS. */
import { API_ERRORS, type ApiErrorBody, type ApiErrorCode } from '@flashsale/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly errors: { path: string; message: string }[] | undefined;
  readonly headers: Record<string, string>;
  constructor(
    code: ApiErrorCode,
    message: string,
    opts: { errors?: { path: string; message: string }[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = API_ERRORS[code];
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
  }
}

export function errorBody(req: FastifyRequest, err: ApiError): ApiErrorBody {
  const body: ApiErrorBody = { code: err.code, message: err.message, correlation_id: String(req.id) };
  if (err.errors && err.errors.length > 0) body.errors = err.errors;
  return body;
}

export function sendError(req: FastifyRequest, reply: FastifyReply, err: ApiError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply.code(err.status).type('application/json; charset=utf-8').send(errorBody(req, err));
}

/** Where a route schema found the problem (fastify's validation context) -> the prefix of `errors[].path`. */
const PART: Record<string, string> = { body: 'body', headers: 'header', params: 'path', querystring: 'query' };
const headerName = (h: string) => h.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());

/** A request its route's zod schema refused (route-schemas.ts): VALIDATION_FAILED with the same per-field errors. */
function schemaValidationError(err: FastifyError & { validationContext?: string }): ApiError {
  const part = PART[err.validationContext ?? ''] ?? err.validationContext ?? '';
  const errors = (err.validation ?? []).slice(0, 20).map((v) => {
    const segments = v.instancePath.split('/').filter(Boolean);
    if (part === 'header' && segments[0]) segments[0] = headerName(segments[0]);
    const path = [part, ...segments].filter(Boolean).join('.') || '(body)';
    const keys = (v.params as { keys?: string[] }).keys;
    if (v.keyword === 'unrecognized_keys' && keys) {
      return { path, message: `unknown field(s): ${keys.slice(0, 5).join(', ')}` };
    }
    return { path, message: v.message ?? 'invalid' };
  });
  const what = part === 'path' ? 'the order id is not valid' : 'the request is not valid';
  return new ApiError('VALIDATION_FAILED', what, { errors });
}

/** Fastify's own errors (schema validation, body parsing, limits, content type) mapped to API codes. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) return schemaValidationError(err);
  const e = err as { code?: string; statusCode?: number; message?: string; name?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? new ApiError('UNSUPPORTED_MEDIA_TYPE', 'content type must be application/json')
        : new ApiError('VALIDATION_FAILED', 'invalid content length');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('VALIDATION_FAILED', 'request body is empty', {
        errors: [{ path: '(body)', message: 'a JSON object is required' }],
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('VALIDATION_FAILED', 'request body is not valid JSON', {
        errors: [{ path: '(body)', message: 'not valid JSON' }],
      });
  }
  if (e.name === 'SyntaxError' || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return new ApiError('VALIDATION_FAILED', 'request body is not valid JSON');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return new ApiError('PAYLOAD_TOO_LARGE', 'request body is too large');
    if (e.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'content type must be application/json');
    if (e.statusCode === 404) return new ApiError('NOT_FOUND', 'not found');
    return new ApiError('VALIDATION_FAILED', e.message ?? 'bad request');
  }
  if (isRedisError(err)) return new ApiError('DEPENDENCY_UNAVAILABLE', 'a dependency is unavailable; retry later');
  return new ApiError('INTERNAL', 'internal error');
}

export function isRedisError(err: unknown): boolean {
  const e = err as { name?: string; message?: string; command?: unknown };
  return (
    e?.name === 'ReplyError' ||
    e?.name === 'MaxRetriesPerRequestError' ||
    e?.command !== undefined ||
    /Connection is closed|Command timed out|ECONNREFUSED|Stream isn't writeable|enableOfflineQueue/i.test(
      e?.message ?? '',
    )
  );
}
