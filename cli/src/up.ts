/**
 * `flashsale up -f <manifest>`: the data path of one sale as local processes. Validates the manifest with the CRD's
 * schema, seeds the inventory and creates the topics with the operator's code (`seedSpecItems`: every item over its
 * `stockBuckets`; `ensureTopics`), then runs
 * the gateway and N processors (`node gateway/src/main.ts`, `node processor/src/main.ts`) with the environment the
 * operator would give their pods (`saleEnv`, one mapping), until SIGINT/SIGTERM. Children get SIGTERM and drain.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  createRedis,
  deleteSaleKeys,
  deleteTopics,
  ensureTopics,
  type FlashSaleManifest,
  type FlashSaleSpec,
  isRefused,
  parseAddrList,
  parseDurationMs,
  type RedisClient,
  type SeedResult,
  saleEnv,
  seedSpecItems,
  type TlsSettings,
  topicReplication,
  topics,
} from '@flashsale/common';
import { childBaseEnv, cliEnv, type Env } from './env.ts';
import { CliError, EXIT, type OutputFormat } from './exit.ts';
import { CliKafka } from './kafka.ts';
import { loadManifest } from './manifest.ts';
import { authHint, type CliSecurity, cliSecurity, credentialEnv, redisAuth, tlsHint, tlsRecord } from './security.ts';
import { removeSession, type UpSession, writeSession } from './session.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GATEWAY_MAIN = join(REPO_ROOT, 'gateway/src/main.ts');
const PROCESSOR_MAIN = join(REPO_ROOT, 'processor/src/main.ts');

export interface UpOptions {
  file: string;
  /** pick a document by name in a multi-document file */
  name?: string | undefined;
  /** run the manifest under another sale name (keys and topics are per sale) */
  sale?: string | undefined;
  /** override spec.redis.addr / spec.kafka.brokers (cluster DNS names do not resolve locally) */
  redis?: string | undefined;
  kafka?: string | undefined;
  /** CA bundles (PEM files) for spec.<redis|kafka>.tls: trusted by the CLI's own connections, passed to the children */
  redisCa?: string | undefined;
  kafkaCa?: string | undefined;
  /** files holding REDIS_PASSWORD / KAFKA_PASSWORD (secret values never come from a flag) */
  redisPasswordFile?: string | undefined;
  kafkaPasswordFile?: string | undefined;
  host: string;
  port: number;
  metricsPort: number;
  processors?: number | undefined;
  partitions?: number | undefined;
  /** open the sale window now, keeping its length */
  now: boolean;
  logLevel: string;
  logDir?: string | undefined;
  /** delete the sale's Redis keys and topics when stopping (also when spec.deletionPolicy is Delete) */
  deleteOnExit: boolean;
  /** extra environment for both components (after the spec's, before spec.<component>.env) */
  env: Record<string, string>;
  output: OutputFormat;
}

export interface PreparedSale {
  sale: string;
  spec: FlashSaleSpec;
  redis: string;
  kafka: string[];
  /** TLS trust from the spec and --redis-ca / --kafka-ca */
  tls: { redis: TlsSettings; kafka: TlsSettings };
  /** credentials (from the environment and the password files) and TLS of the CLI's connections and the children */
  security: CliSecurity;
  seeded: (SeedResult & { item: string; buckets: number })[];
  topics: { orders: string; dlq: string; partitions: number; created: string[] };
}

/** Apply the local overrides to a validated manifest. */
export function localSpec(m: FlashSaleManifest, o: Pick<UpOptions, 'now' | 'partitions'>, now = Date.now()) {
  const spec: FlashSaleSpec = structuredClone(m.spec);
  if (o.now) {
    const length = Date.parse(spec.endsAt) - Date.parse(spec.startsAt);
    spec.startsAt = new Date(now - 1000).toISOString();
    spec.endsAt = new Date(now - 1000 + length).toISOString();
  }
  if (o.partitions !== undefined) spec.topics.partitions = o.partitions;
  return spec;
}

/**
 * The spec's TLS switches and SASL mechanism with what is given locally: CA files (--redis-ca / --kafka-ca), the
 * credentials in the gateway's and processor's variables (REDIS_USERNAME, REDIS_PASSWORD, KAFKA_SASL_MECHANISM,
 * KAFKA_USERNAME, KAFKA_PASSWORD) or password files. A bad value is a usage error naming the variable.
 */
export function localSecurity(
  spec: FlashSaleSpec,
  o: Pick<UpOptions, 'redisCa' | 'kafkaCa' | 'redisPasswordFile' | 'kafkaPasswordFile'>,
  env: Env = cliEnv(),
): CliSecurity {
  try {
    return security(spec, o, env);
  } catch (e) {
    // here REDIS_TLS / KAFKA_TLS are the manifest's switches
    if (!(e instanceof CliError) || !/_TLS is false/.test(e.message)) throw e;
    throw new CliError(`${e.message} (spec.redis.tls.enabled / spec.kafka.tls.enabled in the manifest)`, e.exitCode);
  }
}

function security(
  spec: FlashSaleSpec,
  o: Pick<UpOptions, 'redisCa' | 'kafkaCa' | 'redisPasswordFile' | 'kafkaPasswordFile'>,
  env: Env,
): CliSecurity {
  return cliSecurity(
    {
      redisCa: o.redisCa,
      kafkaCa: o.kafkaCa,
      redisPasswordFile: o.redisPasswordFile,
      kafkaPasswordFile: o.kafkaPasswordFile,
      redisTls: spec.redis.tls.enabled,
      kafkaTls: spec.kafka.tls.enabled,
      redisInsecureSkipVerify: spec.redis.tls.insecureSkipVerify,
      kafkaInsecureSkipVerify: spec.kafka.tls.insecureSkipVerify,
      kafkaSaslMechanism: spec.kafka.sasl?.mechanism,
    },
    env,
  );
}

/** The TLS part of `localSecurity` (CA files from --redis-ca / --kafka-ca only). */
export function localTls(spec: FlashSaleSpec, o: Pick<UpOptions, 'redisCa' | 'kafkaCa'>): PreparedSale['tls'] {
  try {
    const s = localSecurity(spec, o, {});
    return { redis: s.redis.tls, kafka: s.kafka.tls };
  } catch (e) {
    throw new CliError(`${(e as Error).message} (--redis-ca / --kafka-ca)`, EXIT.usage);
  }
}

async function connectRedis(addr: string, mode: 'single' | 'cluster', sec?: CliSecurity): Promise<RedisClient> {
  const r = createRedis(
    { mode, nodes: parseAddrList(addr, '--redis'), ...(sec ? redisAuth(sec) : {}) },
    { connectTimeout: 3000, maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null },
  );
  // a refused AUTH shows as an 'error' event; connect() then only says "Connection is closed."
  let cause: unknown;
  r.on('error', (e) => {
    cause = e;
  });
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    r.disconnect();
    const hint = authHint(e, 'REDIS') || authHint(cause, 'REDIS');
    const why =
      hint && cause && !authHint(e, 'REDIS')
        ? `${(e as Error).message} ${(cause as Error).message}`
        : (e as Error).message;
    throw new CliError(
      `cannot reach Redis at ${addr}: ${why} (pass --redis host:port)${tlsHint(e, '--redis-ca')}${hint}`,
    );
  }
  return r;
}

const kafkaOf = (brokers: string[], security?: CliSecurity) => new CliKafka({ brokers, security, failFast: true });

/** Seed inventory and create topics exactly as the operator does. */
export async function prepareSale(m: FlashSaleManifest, o: UpOptions): Promise<PreparedSale> {
  const sale = o.sale ?? m.metadata.name;
  const spec = localSpec(m, o);
  const redisAddr = o.redis ?? spec.redis.addr;
  const brokers = (o.kafka ?? spec.kafka.brokers).split(',').filter(Boolean);
  const security = localSecurity(spec, o);
  const tls = { redis: security.redis.tls, kafka: security.kafka.tls };
  const r = await connectRedis(redisAddr, spec.redis.mode, security);
  const seeded: PreparedSale['seeded'] = [];
  try {
    const res = await seedSpecItems(r, sale, spec.items);
    const refused = res.filter(isRefused);
    if (refused.length > 0) throw new CliError(refused.map((x) => x.message).join('; '), EXIT.usage);
    for (const x of res) if (!isRefused(x)) seeded.push({ item: x.id, ...x });
  } finally {
    r.disconnect();
  }
  return kafkaOf(brokers, security).withAdmin(async (admin) => {
    const res = await ensureTopics(admin, {
      sale,
      partitions: spec.topics.partitions,
      ...(await topicReplication(admin, spec.topics.replicationFactor)),
      retentionMs: parseDurationMs(spec.topics.retention),
      dlqPartitions: spec.topics.dlqPartitions,
    });
    const t = topics(sale);
    return {
      sale,
      spec,
      redis: redisAddr,
      kafka: brokers,
      tls,
      security,
      seeded,
      topics: { ...t, partitions: res.partitions[t.orders] ?? spec.topics.partitions, created: res.created },
    };
  });
}

/** Remove what `prepareSale` created (deletionPolicy: Delete). */
export async function cleanupSale(
  p: Pick<PreparedSale, 'sale' | 'redis' | 'kafka' | 'spec'> & { security?: CliSecurity },
): Promise<void> {
  const r = await connectRedis(p.redis, p.spec.redis.mode, p.security);
  try {
    await deleteSaleKeys(r, p.sale);
  } finally {
    r.disconnect();
  }
  await kafkaOf(p.kafka, p.security).withAdmin((admin) => deleteTopics(admin, p.sale));
}

interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
  healthUrl: string;
  exited: Promise<number | null>;
}

function startChild(name: string, main: string, env: Record<string, string>, log: string, healthUrl: string): Child {
  const out = createWriteStream(log, { flags: 'a' });
  const proc = spawn(process.execPath, [main], {
    cwd: REPO_ROOT,
    env: { ...childBaseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.pipe(out);
  proc.stderr?.pipe(out);
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : null))),
  );
  return { name, proc, log, healthUrl, exited };
}

async function tail(file: string, lines = 8): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

async function waitHealthy(c: Child, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void c.exited.then(() => {
    dead = true;
  });
  for (;;) {
    if (dead) throw new CliError(`${c.name} exited during start-up; last log lines (${c.log}):\n${await tail(c.log)}`);
    try {
      const res = await fetch(c.healthUrl, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new CliError(`${c.name} not healthy at ${c.healthUrl} after ${timeoutMs / 1000} s; log: ${c.log}`);
    }
    await sleep(200);
  }
}

async function stopChildren(children: Child[], graceMs = 35_000): Promise<void> {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }, graceMs);
  await Promise.all(children.map((c) => c.exited));
  clearTimeout(timer);
}

const say = (o: UpOptions, text: string) => {
  if (o.output === 'text') process.stdout.write(`${text}\n`);
};

export interface UpHandle {
  session: UpSession;
  /** child process ids by name (gateway, processor-0, ...) */
  pids: Record<string, number>;
  prepared: PreparedSale;
  /** resolves with the exit code once everything has stopped */
  done: Promise<number>;
  stop: () => Promise<number>;
}

/** Start everything; `done` settles after stop() or when a child dies. */
export async function startUp(o: UpOptions): Promise<UpHandle> {
  const manifest = await loadManifest(o.file, o.name);
  const prepared = await prepareSale(manifest, o);
  const { sale, spec } = prepared;
  say(o, `sale ${sale}: ${spec.items.length} item(s), ${spec.items.reduce((n, i) => n + i.quantity, 0)} unit(s)`);
  for (const s of prepared.seeded)
    say(
      o,
      `  ${s.item.padEnd(24)} ${s.outcome.padEnd(10)} ${s.remaining}/${s.initial} remaining` +
        (s.buckets > 1 ? ` (${s.buckets} stock buckets)` : ''),
    );
  say(o, `topics ${prepared.topics.orders} (${prepared.topics.partitions} partitions), ${prepared.topics.dlq}`);
  say(o, `window ${spec.startsAt} -> ${spec.endsAt}${o.now ? ' (opened now: --now)' : ''}`);

  const logDir = o.logDir ?? join(tmpdir(), 'flashsale', sale);
  await mkdir(logDir, { recursive: true });
  const processors = Math.max(1, Math.min(o.processors ?? spec.processor.replicas, prepared.topics.partitions));
  const common: Record<string, string> = {
    REDIS_ADDR: prepared.redis,
    KAFKA_ADDR: prepared.kafka.join(','),
    SALE_STARTS_AT: spec.startsAt,
    SALE_ENDS_AT: spec.endsAt,
    TOPIC_PARTITIONS: String(prepared.topics.partitions),
    LOG_LEVEL: o.logLevel,
    ...(prepared.tls.redis.caFile ? { REDIS_TLS_CA_FILE: prepared.tls.redis.caFile } : {}),
    ...(prepared.tls.kafka.caFile ? { KAFKA_TLS_CA_FILE: prepared.tls.kafka.caFile } : {}),
    ...credentialEnv(prepared.security),
    ...o.env,
  };
  const children: Child[] = [];
  const gwUrl = `http://${o.host}:${o.port}`;
  children.push(
    startChild(
      'gateway',
      GATEWAY_MAIN,
      saleEnv(sale, spec, 'gateway', {
        ...common,
        HOST: o.host,
        PORT: String(o.port),
        // every local client comes from loopback: trust X-Forwarded-For from it, so per-IP limits see the crowd
        TRUSTED_PROXIES: 'loopback',
        ...o.env,
      }),
      join(logDir, 'gateway.log'),
      `${gwUrl}/ready`,
    ),
  );
  for (let i = 0; i < processors; i++) {
    const port = o.metricsPort + i;
    children.push(
      startChild(
        `processor-${i}`,
        PROCESSOR_MAIN,
        saleEnv(sale, spec, 'processor', {
          ...common,
          METRICS_HOST: o.host,
          METRICS_PORT: String(port),
          KAFKA_CLIENT_ID: `flashsale-processor-${i}`,
          ...o.env,
        }),
        join(logDir, `processor-${i}.log`),
        `http://${o.host}:${port}/health`,
      ),
    );
  }
  try {
    await Promise.all(children.map((c) => waitHealthy(c, 60_000)));
  } catch (e) {
    await stopChildren(children, 5000);
    throw e;
  }
  const session: UpSession = {
    sale,
    pid: process.pid,
    gatewayUrl: gwUrl,
    gatewayMetricsUrl: `${gwUrl}/metrics`,
    processorMetricsUrls: children.slice(1).map((c) => c.healthUrl.replace(/\/health$/, '/metrics')),
    redis: prepared.redis,
    redisMode: spec.redis.mode,
    kafka: prepared.kafka.join(','),
    // trust only (no secret): `status`, `load` and `dlq` take the credentials from the same environment variables
    tls: { redis: tlsRecord(prepared.tls.redis), kafka: tlsRecord(prepared.tls.kafka) },
    startedAt: new Date().toISOString(),
    logs: Object.fromEntries(children.map((c) => [c.name, c.log])),
  };
  await writeSession(session);
  if (o.output === 'json') {
    process.stdout.write(
      `${JSON.stringify({ event: 'ready', ...session, pids: Object.fromEntries(children.map((c) => [c.name, c.proc.pid])) })}\n`,
    );
  } else {
    say(o, `gateway    ${gwUrl} (pid ${children[0]?.proc.pid}; POST /v1/orders, GET /v1/sale, /metrics)`);
    for (const c of children.slice(1))
      say(o, `${c.name.padEnd(10)} ${c.healthUrl.replace(/\/health$/, '/metrics')} (pid ${c.proc.pid})`);
    say(o, `logs       ${logDir}`);
    say(o, `ready: try 'flashsale load' or 'flashsale status' in another terminal; Ctrl-C stops`);
  }

  let stopping: Promise<number> | undefined;
  const stop = (code: number = EXIT.ok): Promise<number> => {
    stopping ??= (async () => {
      await stopChildren(children);
      await removeSession(session).catch(() => undefined);
      if (o.deleteOnExit || spec.deletionPolicy === 'Delete') {
        await cleanupSale(prepared).catch((e) => process.stderr.write(`cleanup failed: ${(e as Error).message}\n`));
        say(o, `deleted the Redis keys and topics of ${sale}`);
      }
      return code;
    })();
    return stopping;
  };
  const done = Promise.race(
    children.map((c) =>
      c.exited.then(async (code) => {
        if (stopping) return stopping;
        process.stderr.write(`${c.name} exited unexpectedly (code ${code}); last log lines:\n${await tail(c.log)}\n`);
        return stop(EXIT.failure);
      }),
    ),
  );
  const pids = Object.fromEntries(children.map((c) => [c.name, c.proc.pid ?? 0]));
  return { session, pids, prepared, done, stop: () => stop(EXIT.ok) };
}

/** The command: start, then wait for a signal or a child's death. */
export async function runUp(o: UpOptions): Promise<number> {
  const h = await startUp(o);
  const onSignal = (sig: string) => {
    say(o, `${sig}: stopping (children drain up to ${parseDurationMs('30s') / 1000} s)`);
    void h.stop();
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  const code = await h.done;
  say(o, code === EXIT.ok ? 'stopped' : 'stopped after a failure');
  return code;
}
