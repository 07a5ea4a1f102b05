/**
 * What the security tests share: the secured services' set-up (a sale on the harness's TLS + ACL Redis `redisTls`
 * and SASL_SSL Kafka `kafkaSecure`, the processes' environment, the operator as a process in its own namespace with
 * the credential Secrets), and every place a secret could leak from a process.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, parseAddrList, type RedisClient, type RedisConnectionConfig } from '@flashsale/common';
import { afterAll, beforeAll } from 'vitest';
import { createNamespace, deleteNamespace, installCrd, type Json, kubectl } from '../../operator/test/support.ts';
import { type AuditFigures, assertBooks, auditRun, StatusWatch } from '../support/audit.ts';
import { type BurstLog, burst } from '../support/load.ts';
import { Proc, startGateway, startProcessor } from '../support/procs.ts';
import { prepareSale, saleProcEnv } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { freePort } from '../support/wait.ts';

/** The tests' own client settings for `redisTls` (the ACL user, TLS verified against its private CA). */
export function secureRedisConfig(): RedisConnectionConfig {
  const r = requireService('redisTls');
  return {
    mode: 'single',
    nodes: parseAddrList(r.addr),
    username: r.username,
    password: r.password,
    tls: { enabled: true, ca: readFileSync(r.ca, 'utf8'), insecureSkipVerify: false },
  };
}

/** One PEM file with both private CAs (NODE_EXTRA_CA_CERTS takes one file). */
export function caBundleFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fse-ca-')), 'ca-bundle.pem');
  writeFileSync(
    file,
    readFileSync(requireService('redisTls').ca, 'utf8') + readFileSync(requireService('kafkaSecure').ca, 'utf8'),
  );
  return file;
}

export interface SecureEnvOptions {
  /** 'secure': SASL_SSL `kafkaSecure` (default); 'plain': the plaintext `kafka` */
  kafka?: 'secure' | 'plain';
  redisPassword?: string;
  kafkaPassword?: string;
}

/**
 * The environment the operator gives a pod of `sale` on redisTls (and kafkaSecure): TLS switches, ACL user, SASL; no
 * trust setting (add NODE_EXTRA_CA_CERTS or *_TLS_CA_FILE), debug logs (every secret would be there if logged).
 */
export function secureProcEnv(sale: string, o: SecureEnvOptions = {}): Record<string, string> {
  const r = requireService('redisTls');
  const redis = {
    REDIS_TLS: 'true',
    REDIS_USERNAME: r.username,
    REDIS_PASSWORD: o.redisPassword ?? r.password,
    LOG_LEVEL: 'debug',
  };
  if (o.kafka === 'plain') return { ...saleProcEnv(sale, r.addr, requireService('kafka').brokers), ...redis };
  const k = requireService('kafkaSecure');
  return {
    ...saleProcEnv(sale, r.addr, k.brokers),
    ...redis,
    KAFKA_TLS: 'true',
    KAFKA_SASL_MECHANISM: k.mechanism,
    KAFKA_USERNAME: k.username,
    KAFKA_PASSWORD: o.kafkaPassword ?? k.password,
  };
}

export interface SecureSale {
  readonly sale: string;
  /**
   * A gateway and a processor of the sale started with `env` (registered in `procs`), a burst on one item, the audit
   * with the books asserted; and everything they exposed afterwards (output, /health, /metrics, /ready).
   */
  sell(
    env: Record<string, string>,
    load: { item: string; total: number; concurrency: number },
  ): Promise<{ gw: Proc; p: Proc; log: BurstLog; audit: AuditFigures; exposed: string }>;
  /** the tests' Redis client (ACL user over TLS) */
  readonly redis: RedisClient;
  /** the audit's status subscriber, connected the same way */
  readonly watch: StatusWatch;
  /** processes the test started: killed after the file */
  readonly procs: Proc[];
}

/**
 * A test file's sale on the secured stores: seeded through the ACL user, its topics created on `kafkaSecure` (as the
 * SCRAM user over TLS) or on the plaintext `kafka`, and the audit's watch; after the file the processes it registered
 * in `procs` are killed and the connections closed.
 */
export function useSecureSale(
  sale: string,
  o: { items: Record<string, number>; kafka?: 'secure' | 'plain'; partitions?: number },
): SecureSale {
  const procs: Proc[] = [];
  let redis: RedisClient | undefined;
  let watch: StatusWatch | undefined;
  beforeAll(async () => {
    redis = createRedis(secureRedisConfig());
    redis.on('error', () => undefined);
    const k = requireService('kafkaSecure');
    await prepareSale({
      redis,
      sale,
      items: o.items,
      partitions: o.partitions ?? 2,
      ...(o.kafka === 'plain'
        ? { brokers: requireService('kafka').brokers }
        : {
            brokers: k.brokers,
            kafka: {
              ssl: { ca: [readFileSync(k.ca, 'utf8')] },
              sasl: { mechanism: 'scram-sha-512', username: k.username, password: k.password },
            },
          }),
    });
    // the audit's subscriber connects with the same ACL user (channels fs:*)
    watch = await new StatusWatch(secureRedisConfig(), sale).start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    watch?.close();
    redis?.disconnect();
  });
  const sell: SecureSale['sell'] = async (env, load) => {
    const [gw, p] = await Promise.all([
      startGateway(env),
      startProcessor({ ...env, PAYMENT_FAILURE_RATE: '0', HOLD_TTL: '30s' }),
    ]);
    procs.push(gw, p);
    const log = await burst(gw.url, { items: [load.item], total: load.total, concurrency: load.concurrency });
    if (!redis || !watch) throw new Error('useSecureSale: not set up yet');
    const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 40_000 });
    assertBooks(audit);
    const exposed =
      (await exposedText(gw, ['/health', '/metrics', '/ready'])) + (await exposedText(p, ['/health', '/metrics']));
    return { gw, p, log, audit, exposed };
  };
  return {
    sale,
    procs,
    sell,
    get redis() {
      if (!redis) throw new Error('useSecureSale: not set up yet');
      return redis;
    },
    get watch() {
      if (!watch) throw new Error('useSecureSale: not set up yet');
      return watch;
    },
  };
}

/**
 * A test file's operator process on the secured stores: the CRD, a namespace named after `prefix` with the
 * credential Secrets `redis-creds` and `kafka-creds` (keys username, password), `setup` for the file's own objects,
 * then the operator watching that namespace (with `env`); after the file, it is stopped and the namespace deleted.
 */
export function useSecureOperator(
  prefix: string,
  o: { env?: () => Record<string, string>; setup?: (ns: string) => Promise<unknown> } = {},
): { readonly ns: string; readonly op: Proc; exposed(): Promise<string> } {
  let ns = '';
  let op: Proc | undefined;
  beforeAll(async () => {
    const r = requireService('redisTls');
    const k = requireService('kafkaSecure');
    await installCrd();
    ns = await createNamespace(prefix);
    await createLiteralSecret(ns, 'redis-creds', { username: r.username, password: r.password });
    await createLiteralSecret(ns, 'kafka-creds', { username: k.username, password: k.password });
    await o.setup?.(ns);
    op = await startOperatorProc(ns, o.env?.() ?? {});
  }, 60_000);
  afterAll(async () => {
    await op?.stop(10_000);
    if (ns) await deleteNamespace(ns);
  });
  return {
    get ns() {
      return ns;
    },
    get op() {
      if (!op) throw new Error(`useSecureOperator('${prefix}'): not started yet`);
      return op;
    },
    /** Everything the operator and its namespace show: its log and metrics, the sales, events and rendered objects. */
    async exposed() {
      const metrics = await fetch(`${op?.url}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      return [
        op?.output ?? '',
        metrics,
        await kubectl(['-n', ns, 'get', 'flashsales', '-o', 'json']),
        await kubectl(['-n', ns, 'get', 'events', '-o', 'json']),
        await kubectl(['-n', ns, 'get', 'deployments,replicasets,pods,configmaps,services', '-o', 'json']),
      ].join('\n');
    },
  };
}

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
