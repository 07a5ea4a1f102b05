/** Stable machine-readable error codes of the HTTP API, with their status codes. */
export const API_ERRORS = {
  VALIDATION_FAILED: 400,
  /** no identity where one is required (IDENTITY_SOURCE header or jwt) */
  UNAUTHENTICATED: 401,
  /** a bearer token that fails verification (signature, issuer, audience, algorithm, claims) */
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  /** the body's user_id is not the authenticated buyer */
  USER_MISMATCH: 403,
  NOT_FOUND: 404,
  SALE_NOT_STARTED: 403,
  SALE_ENDED: 410,
  SOLD_OUT: 409,
  LIMIT_EXCEEDED: 409,
  DUPLICATE_IN_FLIGHT: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  BROKER_UNAVAILABLE: 503,
  DEPENDENCY_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  correlation_id: string;
  errors?: { path: string; message: string }[];
}
