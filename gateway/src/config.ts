/**
 * The gateway's configuration: read from environment variables once, at start-up, and validated here.
 * Nothing else in the gateway reads `process.env`. Names and defaults follow the runbook.
 */
import {
  envBool as bool,
  DEFAULT_IDENTITY_HEADER,
  envDuration as duration,
  GATEWAY_MODES,
  type GatewayMode,
  type HeapSettings,
  IDENTITY_SOURCES,
  envInt as int,
  JWT_ALGORITHMS,
  type KafkaSasl,
  kafkaSaslEnvShape,
  kafkaSaslFromEnv,
  LOG_LEVELS,
  parseAddrList,
  type RedisConnectionConfig,
  redisModeSchema,
  saleNameSchema,
  splitTrustedProxies,
  type TlsSettings,
  tlsEnvShape,
  tlsPairFromEnv,
  trustedProxyProblem,
  withCompileCache,
} from '@flashsale/common';
import { z } from 'zod';
import type { IdentityConfig } from './identity/buyer.ts';
import { DEFAULT_JWT_ALGORITHMS, parseVerificationKey, type VerificationKey } from './identity/jwt.ts';

const optionalDate = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not an ISO 8601 date-time` });
      return z.NEVER;
    }
    return ms;
  });

const addrList = (what: string, fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseAddrList(v, what);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

/** Addresses, CIDR ranges or named ranges, comma separated (common/src/trusted-proxies.ts, as fastify reads them). */
const proxyList = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const parts = splitTrustedProxies(v);
    for (const p of parts) {
      const problem = trustedProxyProblem(p);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
    return parts;
  });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const jwtAlgorithms = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return DEFAULT_JWT_ALGORITHMS;
    const list = v.split(',').map((s) => s.trim());
    for (const a of list) {
      if (!(JWT_ALGORITHMS as readonly string[]).includes(a)) {
        ctx.addIssue({ code: 'custom', message: `"${a}" is not one of ${JWT_ALGORITHMS.join(', ')}` });
      }
    }
    return list;
  });

export const envSchema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z
    .string()
    .default('info')
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(LOG_LEVELS)),
  SALE_NAME: saleNameSchema,
  /** read-only: order status only, orders refused with SALE_ENDED, no Kafka (the status-only stage after a sale) */
  GATEWAY_MODE: z.enum(GATEWAY_MODES).default('orders'),
  SALE_STARTS_AT: optionalDate,
  SALE_ENDS_AT: optionalDate,
  REDIS_ADDR: addrList('REDIS_ADDR', 'redis-service:6379'),
  REDIS_MODE: redisModeSchema.default('single'),
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: bool(false),
  REDIS_COMMAND_TIMEOUT: duration('2s'),
  KAFKA_ADDR: addrList('KAFKA_ADDR', 'kafka-service:9092'),
  KAFKA_CLIENT_ID: z.string().min(1).default('flashsale-gateway'),
  KAFKA_TLS: bool(false),
  /** SASL (the operator sets them from the spec and Secret references) */
  ...kafkaSaslEnvShape,
  /** TLS trust: CA bundle files (mounted by the operator) and skipped verification (common/src/tls.ts) */
  ...tlsEnvShape,
  KAFKA_SEND_TIMEOUT: duration('5s'),
  PRODUCER_BATCH_MAX: int(500, 1, 10_000),
  PRODUCER_LINGER: duration('2ms'),
  CIRCUIT_BREAKER_FAILURE_THRESHOLD: int(5, 1, 1000),
  CIRCUIT_BREAKER_SUCCESS_THRESHOLD: int(2, 1, 1000),
  CIRCUIT_BREAKER_BASE_TIMEOUT: duration('30s'),
  CIRCUIT_BREAKER_MAX_TIMEOUT: duration('300s'),
  RATE_LIMIT_ENABLED: bool(true),
  RATE_LIMIT_MAX_REQUESTS: int(60, 1, 1_000_000),
  RATE_LIMIT_WINDOW: duration('1m'),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).optional(),
  RATE_LIMIT_IP_MAX_REQUESTS: int(600, 1, 10_000_000),
  RATE_LIMIT_READ_MAX_REQUESTS: int(1200, 1, 10_000_000),
  RATE_LIMIT_FAIL_OPEN: bool(true),
  TRUSTED_PROXIES: proxyList,
  /** the buyer's identity: body (user_id as sent), header (an authenticating proxy's), jwt (a verified token) */
  IDENTITY_SOURCE: z.enum(IDENTITY_SOURCES).default('body'),
  IDENTITY_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')
    .default(DEFAULT_IDENTITY_HEADER),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_JWKS_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional()),
  /** a PEM public key or a JSON Web Key Set (the operator sets it from spec.gateway.identity.jwt.publicKeySecretRef) */
  JWT_PUBLIC_KEY: optionalText,
  JWT_USER_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a claim name')
    .default('sub'),
  JWT_ALGORITHMS: jwtAlgorithms,
  JWT_CLOCK_TOLERANCE: duration('30s'),
  JWT_JWKS_REFRESH: duration('10m'),
  IDEMPOTENCY_TTL: duration('24h'),
  IDEMPOTENCY_PENDING_TTL: duration('30s'),
  BODY_LIMIT: int(4096, 256, 1_048_576),
  SHUTDOWN_TIMEOUT: duration('30s'),
  /** V8's young-generation cap (--max-semi-space-size, MB; 0: V8's default of 64 MB): common/src/heap.ts */
  V8_MAX_SEMI_SPACE_MB: int(8, 0, 1024),
  /** V8's old-generation growth between full GCs (--heap-growing-percent; 0: V8's own factor): common/src/heap.ts */
  V8_HEAP_GROWING_PERCENT: int(50, 0, 1000),
  SSE_HEARTBEAT: duration('15s'),
  SSE_MAX_DURATION: duration('10m'),
  STOCK_POLL_INTERVAL: duration('1s'),
  HEALTH_CHECK_TIMEOUT: duration('1s'),
});

export interface RateLimitPolicy {
  /** bucket capacity: the burst ceiling */
  capacity: number;
  /** tokens added per second */
  refillPerSecond: number;
}

export interface GatewayConfig {
  port: number;
  host: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** orders: the whole API; read-only: status reads only, Kafka neither used nor checked (common/src/sale-env.ts) */
  mode: GatewayMode;
  sale: { name: string; startsAt?: number | undefined; endsAt?: number | undefined };
  redis: RedisConnectionConfig & { tls: TlsSettings; commandTimeoutMs: number };
  kafka: {
    brokers: string[];
    clientId: string;
    tls: TlsSettings;
    sasl?: KafkaSasl | undefined;
    sendTimeoutMs: number;
    batchMax: number;
    lingerMs: number;
  };
  breaker: { failureThreshold: number; successThreshold: number; baseTimeoutMs: number; maxTimeoutMs: number };
  rateLimit: {
    enabled: boolean;
    failOpen: boolean;
    /** per user on the order routes (the runbook's RATE_LIMIT_MAX_REQUESTS per RATE_LIMIT_WINDOW) */
    orderUser: RateLimitPolicy;
    /** per client IP on the order routes */
    orderIp: RateLimitPolicy;
    /** per client IP on the read routes (status, events, sale) */
    readIp: RateLimitPolicy;
  };
  trustedProxies: string[];
  identity: IdentityConfig;
  idempotency: { ttlMs: number; pendingTtlMs: number };
  bodyLimit: number;
  shutdownTimeoutMs: number;
  /** V8 flags the process re-executes itself with, and its environment there (common/src/heap.ts) */
  heap: HeapSettings;
  sse: { heartbeatMs: number; maxDurationMs: number };
  stockPollIntervalMs: number;
  healthCheckTimeoutMs: number;
}

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid gateway configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Parse and validate the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const issues: string[] = [];
  if (e.SALE_STARTS_AT !== undefined && e.SALE_ENDS_AT !== undefined && e.SALE_ENDS_AT <= e.SALE_STARTS_AT) {
    issues.push('SALE_ENDS_AT: must be after SALE_STARTS_AT');
  }
  if (e.CIRCUIT_BREAKER_MAX_TIMEOUT < e.CIRCUIT_BREAKER_BASE_TIMEOUT) {
    issues.push('CIRCUIT_BREAKER_MAX_TIMEOUT: must not be below CIRCUIT_BREAKER_BASE_TIMEOUT');
  }
  if (e.RATE_LIMIT_WINDOW <= 0) issues.push('RATE_LIMIT_WINDOW: must be positive');
  if (e.KAFKA_SEND_TIMEOUT <= 0) issues.push('KAFKA_SEND_TIMEOUT: must be positive');
  const identity = identityFrom(e, issues);
  const sasl = kafkaSaslFromEnv(e, issues);
  const tls = tlsPairFromEnv(e, issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const windowS = e.RATE_LIMIT_WINDOW / 1000;
  const policy = (max: number, burst = max): RateLimitPolicy => ({ capacity: burst, refillPerSecond: max / windowS });
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    mode: e.GATEWAY_MODE,
    sale: { name: e.SALE_NAME, startsAt: e.SALE_STARTS_AT, endsAt: e.SALE_ENDS_AT },
    redis: {
      mode: e.REDIS_MODE,
      nodes: e.REDIS_ADDR,
      username: e.REDIS_USERNAME,
      password: e.REDIS_PASSWORD,
      tls: tls.redis,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT,
    },
    kafka: {
      brokers: e.KAFKA_ADDR.map((a) => `${a.host}:${a.port}`),
      clientId: e.KAFKA_CLIENT_ID,
      tls: tls.kafka,
      sasl,
      sendTimeoutMs: e.KAFKA_SEND_TIMEOUT,
      batchMax: e.PRODUCER_BATCH_MAX,
      lingerMs: e.PRODUCER_LINGER,
    },
    breaker: {
      failureThreshold: e.CIRCUIT_BREAKER_FAILURE_THRESHOLD,
      successThreshold: e.CIRCUIT_BREAKER_SUCCESS_THRESHOLD,
      baseTimeoutMs: e.CIRCUIT_BREAKER_BASE_TIMEOUT,
      maxTimeoutMs: e.CIRCUIT_BREAKER_MAX_TIMEOUT,
    },
    rateLimit: {
      enabled: e.RATE_LIMIT_ENABLED,
      failOpen: e.RATE_LIMIT_FAIL_OPEN,
      orderUser: policy(e.RATE_LIMIT_MAX_REQUESTS, e.RATE_LIMIT_BURST),
      orderIp: policy(e.RATE_LIMIT_IP_MAX_REQUESTS),
      readIp: policy(e.RATE_LIMIT_READ_MAX_REQUESTS),
    },
    trustedProxies: e.TRUSTED_PROXIES,
    identity: identity ?? { source: 'body' },
    idempotency: { ttlMs: e.IDEMPOTENCY_TTL, pendingTtlMs: e.IDEMPOTENCY_PENDING_TTL },
    bodyLimit: e.BODY_LIMIT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    heap: {
      maxSemiSpaceMb: e.V8_MAX_SEMI_SPACE_MB,
      heapGrowingPercent: e.V8_HEAP_GROWING_PERCENT,
      env: withCompileCache(env),
    },
    sse: { heartbeatMs: e.SSE_HEARTBEAT, maxDurationMs: e.SSE_MAX_DURATION },
    stockPollIntervalMs: e.STOCK_POLL_INTERVAL,
    healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT,
  };
}

/** IDENTITY_SOURCE and what it needs; each missing or bad setting is an issue naming its variable. */
function identityFrom(e: z.output<typeof envSchema>, issues: string[]): IdentityConfig | undefined {
  switch (e.IDENTITY_SOURCE) {
    case 'body':
      return { source: 'body' };
    case 'header':
      if (e.TRUSTED_PROXIES.length === 0) {
        issues.push(
          'TRUSTED_PROXIES: IDENTITY_SOURCE=header needs the proxies that set the header (it is honoured only from them)',
        );
      }
      return { source: 'header', header: e.IDENTITY_HEADER };
    case 'jwt': {
      if (!e.JWT_ISSUER) issues.push('JWT_ISSUER: required with IDENTITY_SOURCE=jwt (the tokens\' "iss")');
      if (!e.JWT_AUDIENCE) issues.push('JWT_AUDIENCE: required with IDENTITY_SOURCE=jwt (the tokens\' "aud")');
      if ((e.JWT_JWKS_URL === undefined) === (e.JWT_PUBLIC_KEY === undefined)) {
        issues.push("JWT_JWKS_URL, JWT_PUBLIC_KEY: IDENTITY_SOURCE=jwt needs exactly one of them (the issuer's keys)");
      }
      let publicKey: VerificationKey | undefined;
      if (e.JWT_PUBLIC_KEY !== undefined) {
        try {
          publicKey = parseVerificationKey(e.JWT_PUBLIC_KEY);
        } catch (err) {
          issues.push(`JWT_PUBLIC_KEY: ${(err as Error).message}`);
        }
      }
      if (e.JWT_JWKS_REFRESH <= 0) issues.push('JWT_JWKS_REFRESH: must be positive');
      return {
        source: 'jwt',
        jwt: {
          issuer: e.JWT_ISSUER ?? '',
          audience: e.JWT_AUDIENCE ?? '',
          jwksUrl: e.JWT_JWKS_URL,
          publicKey,
          userClaim: e.JWT_USER_CLAIM,
          algorithms: e.JWT_ALGORITHMS,
          clockToleranceMs: e.JWT_CLOCK_TOLERANCE,
          jwksRefreshMs: e.JWT_JWKS_REFRESH,
        },
      };
    }
  }
}
