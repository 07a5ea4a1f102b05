/**
 * The operator's own configuration, read from the environment once at start-up and validated here. Nothing else in
 * the operator reads `process.env`.
 */
import { hostname } from 'node:os';
import { envBool as bool, envDuration as duration, envInt as int, LOG_LEVELS } from '@flashsale/common';
import { z } from 'zod';

const command = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) => v.split(/\s+/).filter(Boolean));

export const envSchema = z.object({
  /** path of a kubeconfig; empty: in-cluster or ~/.kube/config (client-node's loadFromDefault) */
  KUBECONFIG: z.string().optional(),
  LOG_LEVEL: z
    .string()
    .default('info')
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(LOG_LEVELS)),
  /** only watch this namespace (empty: all namespaces) */
  WATCH_NAMESPACE: z.string().default(''),
  /** /metrics, /healthz, /readyz; 0 picks a free port, -1 disables the server */
  METRICS_PORT: int(8080, -1, 65535),
  METRICS_HOST: z.string().default('0.0.0.0'),
  MAX_CONCURRENT_RECONCILES: int(2, 1, 64),
  RESYNC_PERIOD: duration('5m'),
  /** how often a live sale's status (sold/remaining) is refreshed */
  STATUS_REFRESH: duration('15s'),
  BACKOFF_BASE: duration('500ms'),
  BACKOFF_MAX: duration('5m'),
  LEADER_ELECT: bool(true),
  LEASE_NAME: z.string().default('flashsale-operator'),
  LEASE_NAMESPACE: z.string().default('default'),
  LEASE_DURATION: duration('15s'),
  RENEW_DEADLINE: duration('10s'),
  RETRY_PERIOD: duration('2s'),
  /** leader election identity; defaults to the pod name (HOSTNAME) plus a random suffix */
  POD_NAME: z.string().optional(),
  DEFAULT_GATEWAY_IMAGE: z.string().default('ghcr.io/flash-sale-engine/flash-sale-engine:0.1.0'),
  DEFAULT_PROCESSOR_IMAGE: z.string().default('ghcr.io/flash-sale-engine/flash-sale-engine:0.1.0'),
  GATEWAY_COMMAND: command('node gateway/src/main.ts'),
  PROCESSOR_COMMAND: command('node processor/src/main.ts'),
  RUNBOOK_URL: z.string().optional(),
  /** timeout of one Redis command / Kafka connection from the operator */
  DEPENDENCY_TIMEOUT: duration('3s'),
});

export interface OperatorConfig {
  kubeconfig?: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  watchNamespace: string;
  metrics: { port: number; host: string };
  maxConcurrentReconciles: number;
  resyncPeriodMs: number;
  statusRefreshMs: number;
  backoff: { baseMs: number; maxMs: number };
  leaderElection: {
    enabled: boolean;
    name: string;
    namespace: string;
    identity: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  workloads: { gatewayImage: string; processorImage: string; gatewayCommand: string[]; processorCommand: string[] };
  runbookUrl?: string | undefined;
  dependencyTimeoutMs: number;
}

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid operator configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): OperatorConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const issues: string[] = [];
  if (e.RENEW_DEADLINE >= e.LEASE_DURATION) issues.push('RENEW_DEADLINE: must be below LEASE_DURATION');
  if (e.RETRY_PERIOD >= e.RENEW_DEADLINE) issues.push('RETRY_PERIOD: must be below RENEW_DEADLINE');
  if (e.BACKOFF_MAX < e.BACKOFF_BASE) issues.push('BACKOFF_MAX: must not be below BACKOFF_BASE');
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    kubeconfig: e.KUBECONFIG || undefined,
    logLevel: e.LOG_LEVEL,
    watchNamespace: e.WATCH_NAMESPACE,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
    maxConcurrentReconciles: e.MAX_CONCURRENT_RECONCILES,
    resyncPeriodMs: e.RESYNC_PERIOD,
    statusRefreshMs: e.STATUS_REFRESH,
    backoff: { baseMs: e.BACKOFF_BASE, maxMs: e.BACKOFF_MAX },
    leaderElection: {
      enabled: e.LEADER_ELECT,
      name: e.LEASE_NAME,
      namespace: e.LEASE_NAMESPACE,
      identity: e.POD_NAME ?? `${hostname()}-${Math.random().toString(36).slice(2, 8)}`,
      leaseDurationMs: e.LEASE_DURATION,
      renewDeadlineMs: e.RENEW_DEADLINE,
      retryPeriodMs: e.RETRY_PERIOD,
    },
    workloads: {
      gatewayImage: e.DEFAULT_GATEWAY_IMAGE,
      processorImage: e.DEFAULT_PROCESSOR_IMAGE,
      gatewayCommand: e.GATEWAY_COMMAND,
      processorCommand: e.PROCESSOR_COMMAND,
    },
    runbookUrl: e.RUNBOOK_URL,
    dependencyTimeoutMs: e.DEPENDENCY_TIMEOUT,
  };
}
