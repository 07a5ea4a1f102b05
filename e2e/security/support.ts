/** What the security tests share: every place a secret could leak from a process, and the operator as a process. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Json, kubectl } from '../../operator/test/support.ts';
import { freePort, Proc } from '../support/procs.ts';
import { requireService } from '../support/services.ts';

const OPERATOR_MAIN = join(import.meta.dirname, '../../operator/src/main.ts');

/** A process's captured output plus the bodies of `paths` (e.g. /health, /metrics). */
export async function exposedText(p: Proc, paths: string[]): Promise<string> {
  const bodies = await Promise.all(
    paths.map((path) =>
      fetch(`${p.url}${path}`, { signal: AbortSignal.timeout(3000) })
        .then((r) => r.text())
        .catch(() => ''),
    ),
  );
  return [p.output, ...bodies].join('\n');
}

/** The base64 lines of the harness's two private CAs: none may appear outside a Secret. */
export function caFragments(): string[] {
  return [requireService('redisTls').ca, requireService('kafkaSecure').ca].flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.length >= 40 && !l.startsWith('-----')),
  );
}

/** The operator process watching `ns` only, logging at debug level, with fast lease and retry timings. */
export async function startOperatorProc(ns: string, env: Record<string, string> = {}): Promise<Proc> {
  const port = await freePort();
  return new Proc(
    'operator',
    OPERATOR_MAIN,
    {
      KUBECONFIG: requireService('kube').kubeconfig,
      LOG_LEVEL: 'debug',
      WATCH_NAMESPACE: ns,
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      LEASE_NAMESPACE: ns,
      LEASE_NAME: 'flashsale-operator',
      LEASE_DURATION: '4s',
      RENEW_DEADLINE: '3s',
      RETRY_PERIOD: '500ms',
      STATUS_REFRESH: '2s',
      BACKOFF_BASE: '200ms',
      BACKOFF_MAX: '3s',
      DEPENDENCY_TIMEOUT: '2s',
      ...env,
    },
    port,
  );
}

/** A generic Secret in `ns` from literal key/value pairs. */
export function createLiteralSecret(ns: string, name: string, data: Record<string, string>): Promise<string> {
  return kubectl([
    '-n',
    ns,
    'create',
    'secret',
    'generic',
    name,
    ...Object.entries(data).map(([a, b]) => `--from-literal=${a}=${b}`),
  ]);
}

/**
 * The spec's `redis` and `kafka` for the harness's TLS + ACL Redis and SASL_SSL Kafka, each user's name and password
 * from a Secret (keys `username`, `password`), TLS on with `tls` merged in (CA reference, skip-verify).
 */
export function secureStores(
  redisSecret: string,
  kafkaSecret: string,
  tls: { redis?: Json; kafka?: Json } = {},
): { redis: Json; kafka: Json } {
  const r = requireService('redisTls');
  const k = requireService('kafkaSecure');
  return {
    redis: {
      mode: 'single',
      addr: r.addr,
      usernameSecretRef: { name: redisSecret, key: 'username' },
      passwordSecretRef: { name: redisSecret, key: 'password' },
      tls: { enabled: true, ...tls.redis },
    },
    kafka: {
      brokers: k.brokers.join(','),
      sasl: {
        mechanism: 'scram-sha-512',
        usernameSecretRef: { name: kafkaSecret, key: 'username' },
        passwordSecretRef: { name: kafkaSecret, key: 'password' },
      },
      tls: { enabled: true, ...tls.kafka },
    },
  };
}
