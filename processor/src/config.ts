/** Processor configuration: parsed and validated once at start-up from the environment. Nothing else reads env. */
import {
  envAddrList as addrList,
  envBool as bool,
  envDuration as duration,
  type HeapSettings,
  envInt as int,
  type KafkaSasl,
  kafkaSaslEnvShape,
  kafkaSaslFromEnv,
  LOG_LEVELS,
  parseAddrList,
  redisModeSchema,
  saleNameSchema,
  type TlsSettings,
  tlsEnvShape,
  tlsPairFromEnv,
  withCompileCache,
} from '@flashsale/common';
import { z } from 'zod';

/** Environment variables (the runbook's REDIS_ADDR, KAFKA_ADDR, LOG_LEVEL, plus the processor's own). */
export const envSchema = z.object({
  SALE_NAME: saleNameSchema,
  REDIS_ADDR: addrList('REDIS_ADDR').default(parseAddrList('redis-service:6379')),
  REDIS_MODE: redisModeSchema.default('single'),
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: bool(false),
  KAFKA_ADDR: z
    .string()
    .default('kafka-service:9092')
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port[,host:port...]')).min(1)),
  KAFKA_CLIENT_ID: z.string().min(1).default('flashsale-processor'),
  KAFKA_TLS: bool(false),
  /** SASL (the operator sets them from the spec and Secret references) */
  ...kafkaSaslEnvShape,
  /** TLS trust: CA bundle files (mounted by the operator) and skipped verification (common/src/tls.ts) */
  ...tlsEnvShape,
  /** a crashed member's partitions move to the others after this long */
  KAFKA_SESSION_TIMEOUT: duration('30s'),
  /** bytes of orders one fetch brings per partition: bounds the batch a partition holds in memory (docs/capacity.md) */
  KAFKA_FETCH_MAX_BYTES_PER_PARTITION: int(1_048_576, 1024, 104_857_600),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  METRICS_PORT: int(9090, 0, 65535),
  METRICS_HOST: z.string().default('0.0.0.0'),
  /** how long a reservation holds stock waiting for payment */
  HOLD_TTL: duration('5m'),
  /** payment simulation: per-order failure probability, share of failures that are timeouts, latency, timeout */
  PAYMENT_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0.1),
  PAYMENT_TIMEOUT_SHARE: z.coerce.number().min(0).max(1).default(0.5),
  PAYMENT_SEED: z.string().default('flashsale'),
  PAYMENT_LATENCY_MIN: duration('5ms'),
  PAYMENT_LATENCY_MAX: duration('50ms'),
  PAYMENT_TIMEOUT: duration('2s'),
  /** payments in flight per processor: caps it at PAYMENT_CONCURRENCY / mean payment time (docs/capacity.md, p_lat) */
  PAYMENT_CONCURRENCY: int(1024, 1, 10_000),
  /** partitions handled at once by one processor */
  PARTITIONS_CONCURRENCY: int(4, 1, 256),
  /** transient Redis errors: attempts and backoff before the order is dead-lettered (redis_failure) */
  /** a command with no answer after this long fails (and is retried; the scripts are replay-safe) */
  REDIS_COMMAND_TIMEOUT: duration('5s'),
  REDIS_RETRY_ATTEMPTS: int(6, 1, 100),
  REDIS_RETRY_BASE: duration('100ms'),
  REDIS_RETRY_MAX: duration('3s'),
  SWEEP_INTERVAL: duration('1s'),
  SWEEP_BATCH: int(500, 1, 100_000),
  /** an accepted order still QUEUED this long after it was (re)sent is stuck: its message never reached a processor */
  STUCK_ORDER_AFTER: duration('2m'),
  /** how often one processor (under a sale-wide lease) scans for stuck orders */
  STUCK_SWEEP_INTERVAL: duration('30s'),
  /** re-sends of a stuck order before it is finalized REJECTED (reason not_processed); 0: finalize at once */
  STUCK_REPUBLISH_ATTEMPTS: int(1, 0, 10),
  AUDIT_INTERVAL: duration('5s'),
  /** how often DLQ gauges and consumer lag are computed from topic offsets */
  OFFSETS_INTERVAL: duration('5s'),
  SHUTDOWN_TIMEOUT: duration('25s'),
  /** V8's young-generation cap (--max-semi-space-size, MB; 0: V8's default of 64 MB): common/src/heap.ts. 12, not the
   *  gateway's 8: a backlog drain keeps whole batches young; docs/benchmarks.md, issue 17 sixth round */
  V8_MAX_SEMI_SPACE_MB: int(12, 0, 1024),
  /** V8's old-generation growth between full GCs (--heap-growing-percent; 0: V8's own factor): common/src/heap.ts */
  V8_HEAP_GROWING_PERCENT: int(50, 0, 1000),
  /** readiness (/readyz, /health): a Redis PING with no answer after this long counts as down */
  HEALTH_CHECK_TIMEOUT: duration('1s'),
  /** create the sale's topics at start when missing (the operator does it in a cluster) */
  ENSURE_TOPICS: bool(true),
  TOPIC_PARTITIONS: int(6, 1, 10_000),
  TOPIC_REPLICATION: int(1, 1, 10),
});

export interface ProcessorConfig {
  sale: string;
  redis: {
    mode: 'single' | 'cluster';
    nodes: { host: string; port: number }[];
    username?: string | undefined;
    password?: string | undefined;
    tls: TlsSettings;
    commandTimeoutMs: number;
  };
  kafka: {
    brokers: string[];
    clientId: string;
    sessionTimeoutMs: number;
    fetchMaxBytesPerPartition: number;
    tls: TlsSettings;
    sasl?: KafkaSasl | undefined;
  };
  logLevel: (typeof LOG_LEVELS)[number];
  metrics: { port: number; host: string };
  holdTtlMs: number;
  payment: {
    failureRate: number;
    timeoutShare: number;
    seed: string;
    latencyMinMs: number;
    latencyMaxMs: number;
    timeoutMs: number;
    concurrency: number;
  };
  partitionsConcurrency: number;
  redisRetry: { attempts: number; baseMs: number; maxMs: number };
  sweep: { intervalMs: number; batch: number };
  stuck: { afterMs: number; intervalMs: number; republishAttempts: number };
  auditIntervalMs: number;
  offsetsIntervalMs: number;
  shutdownTimeoutMs: number;
  /** V8 flags the process re-executes itself with, and its environment there (common/src/heap.ts) */
  heap: HeapSettings;
  healthCheckTimeoutMs: number;
  topics: { ensure: boolean; partitions: number; replication: number };
}

/** Parse the environment; throws one Error whose message names every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ProcessorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new Error(`invalid processor configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if (e.PAYMENT_LATENCY_MAX < e.PAYMENT_LATENCY_MIN) {
    throw new Error('invalid processor configuration:\n  PAYMENT_LATENCY_MAX: must be >= PAYMENT_LATENCY_MIN');
  }
  const saslIssues: string[] = [];
  const sasl = kafkaSaslFromEnv(e, saslIssues);
  const tls = tlsPairFromEnv(e, saslIssues);
  if (saslIssues.length > 0) throw new Error(`invalid processor configuration:\n  ${saslIssues.join('\n  ')}`);
  return {
    sale: e.SALE_NAME,
    redis: {
      mode: e.REDIS_MODE,
      nodes: e.REDIS_ADDR,
      username: e.REDIS_USERNAME,
      password: e.REDIS_PASSWORD,
      tls: tls.redis,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT,
    },
    kafka: {
      brokers: e.KAFKA_ADDR,
      clientId: e.KAFKA_CLIENT_ID,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT,
      fetchMaxBytesPerPartition: e.KAFKA_FETCH_MAX_BYTES_PER_PARTITION,
      tls: tls.kafka,
      sasl,
    },
    logLevel: e.LOG_LEVEL,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    holdTtlMs: e.HOLD_TTL,
    payment: {
      failureRate: e.PAYMENT_FAILURE_RATE,
      timeoutShare: e.PAYMENT_TIMEOUT_SHARE,
      seed: e.PAYMENT_SEED,
      latencyMinMs: e.PAYMENT_LATENCY_MIN,
      latencyMaxMs: e.PAYMENT_LATENCY_MAX,
      timeoutMs: e.PAYMENT_TIMEOUT,
      concurrency: e.PAYMENT_CONCURRENCY,
    },
    partitionsConcurrency: e.PARTITIONS_CONCURRENCY,
    redisRetry: { attempts: e.REDIS_RETRY_ATTEMPTS, baseMs: e.REDIS_RETRY_BASE, maxMs: e.REDIS_RETRY_MAX },
    sweep: { intervalMs: e.SWEEP_INTERVAL, batch: e.SWEEP_BATCH },
    stuck: {
      afterMs: e.STUCK_ORDER_AFTER,
      intervalMs: e.STUCK_SWEEP_INTERVAL,
      republishAttempts: e.STUCK_REPUBLISH_ATTEMPTS,
    },
    auditIntervalMs: e.AUDIT_INTERVAL,
    offsetsIntervalMs: e.OFFSETS_INTERVAL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    heap: {
      maxSemiSpaceMb: e.V8_MAX_SEMI_SPACE_MB,
      heapGrowingPercent: e.V8_HEAP_GROWING_PERCENT,
      env: withCompileCache(env),
    },
    healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT,
    topics: { ensure: e.ENSURE_TOPICS, partitions: e.TOPIC_PARTITIONS, replication: e.TOPIC_REPLICATION },
  };
}
