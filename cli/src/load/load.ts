/**
 * `flashsale load`: plan the crowd, drive it at the gateway with a progress bar, then audit from Redis and the order
 * stream (verify.ts) and print the table or JSON. Exit 0 only when nothing was oversold or lost.
 */
import { createRedis, parseAddrList, type RedisClient } from '@flashsale/common';
import { cliEnv, type Env } from '../env.ts';
import { CliError, EXIT, type OutputFormat } from '../exit.ts';
import { CliKafka } from '../kafka.ts';
import { authHint, type CliSecurity, cliSecurity, redisAuth, type SecurityFlags } from '../security.ts';
import { readSession, type UpSession } from '../session.ts';
import { type LoadOptions, loadOptionsSchema } from './options.ts';
import { fmt, Progress } from './progress.ts';
import { buildReport, type LoadReport, renderReport } from './report.ts';
import { runLoad } from './run-load.ts';
import { SoldOutWatch, verifySale } from './verify.ts';

export interface LoadTarget {
  url?: string | undefined;
  sale?: string | undefined;
  redis?: string | undefined;
  redisMode?: 'single' | 'cluster' | undefined;
  /** brokers; empty: skip reading the order stream back */
  kafka?: string | undefined;
  /** CA files and password files (credentials come from the environment: docs/cli.md) */
  security?: Pick<SecurityFlags, 'redisCa' | 'kafkaCa' | 'redisPasswordFile' | 'kafkaPasswordFile'>;
}

/**
 * Credentials from the environment (security.ts) with the TLS trust of the running `flashsale up` (its session file
 * records the switches and CA paths, never a secret) unless flags or variables say otherwise.
 */
export function sessionSecurity(
  flags: LoadTarget['security'],
  s: Pick<UpSession, 'tls'> | null | undefined,
  env: Env = cliEnv(),
): CliSecurity {
  const f: SecurityFlags = { ...flags };
  if (s?.tls && flags?.redisCa === undefined && !env.REDIS_TLS && !env.REDIS_TLS_CA_FILE) {
    f.redisTls = s.tls.redis.enabled;
    f.redisCa = s.tls.redis.caFile;
    f.redisInsecureSkipVerify = s.tls.redis.insecureSkipVerify;
  }
  if (s?.tls && flags?.kafkaCa === undefined && !env.KAFKA_TLS && !env.KAFKA_TLS_CA_FILE) {
    f.kafkaTls = s.tls.kafka.enabled;
    f.kafkaCa = s.tls.kafka.caFile;
    f.kafkaInsecureSkipVerify = s.tls.kafka.insecureSkipVerify;
  }
  return cliSecurity(f, env);
}

/** Ping Redis once so a refused password or certificate is a clear error, not a hang. */
export async function checkRedis(r: RedisClient, addr: string): Promise<void> {
  try {
    await r.ping();
  } catch (e) {
    r.disconnect();
    throw new CliError(`cannot use Redis at ${addr}: ${(e as Error).message}${authHint(e, 'REDIS')}`);
  }
}

/** Flags first, then the running `flashsale up` session. */
export async function resolveTarget(
  t: LoadTarget,
): Promise<Required<Omit<LoadTarget, 'kafka' | 'security'>> & { kafka?: string; security: CliSecurity }> {
  const s = await readSession(t.sale);
  const url = t.url ?? s?.gatewayUrl;
  if (!url) throw new CliError('no gateway: pass --url, or start one with `flashsale up`', EXIT.usage);
  let sale = t.sale ?? s?.sale;
  if (!sale) {
    const res = await fetch(new URL('/v1/sale', url), { signal: AbortSignal.timeout(3000) }).catch((e: Error) => {
      throw new CliError(`cannot reach the gateway at ${url}: ${e.message}`);
    });
    sale = ((await res.json()) as { sale?: string }).sale;
  }
  const redis = t.redis ?? s?.redis;
  if (!sale) throw new CliError('no sale name: pass --sale', EXIT.usage);
  if (!redis) throw new CliError('no Redis address: pass --redis host:port', EXIT.usage);
  const kafka = t.kafka ?? s?.kafka;
  const security = sessionSecurity(t.security, s);
  return {
    url,
    sale,
    redis,
    redisMode: t.redisMode ?? s?.redisMode ?? 'single',
    security,
    ...(kafka ? { kafka } : {}),
  };
}

/** Items of the sale and their remaining stock, from the gateway's GET /v1/sale. */
export async function saleItems(url: string): Promise<{ id: string; remaining: number }[]> {
  const res = await fetch(new URL('/v1/sale', url), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new CliError(`GET /v1/sale answered ${res.status}`);
  const body = (await res.json()) as { items?: { item_id: string; remaining: number }[] };
  return (body.items ?? []).map((i) => ({ id: i.item_id, remaining: i.remaining }));
}

export function connect(addr: string, mode: 'single' | 'cluster', security?: CliSecurity): RedisClient {
  const r = createRedis(
    { mode, nodes: parseAddrList(addr, '--redis'), ...(security ? redisAuth(security) : {}) },
    { maxRetriesPerRequest: 2 },
  );
  r.on('error', () => undefined);
  return r;
}

export interface LoadRun {
  options: LoadOptions;
  target: LoadTarget;
  output: OutputFormat;
  progress: boolean;
  /** where the table or JSON goes (default stdout) */
  out?: NodeJS.WritableStream | undefined;
}

export async function runLoadCommand(run: LoadRun): Promise<{ code: number; report: LoadReport }> {
  const t = await resolveTarget(run.target);
  const parsed = loadOptionsSchema.safeParse({ ...run.options, url: t.url });
  if (!parsed.success) {
    throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), EXIT.usage);
  }
  const o = parsed.data;
  const listed = o.items.length > 0 && o.spread === 'even' ? [] : await saleItems(t.url);
  const items = o.items.length > 0 ? o.items : listed.map((i) => i.id);
  const weights = o.spread === 'stock' ? items.map((id) => listed.find((i) => i.id === id)?.remaining ?? 0) : undefined;
  if (items.length === 0) throw new CliError(`sale ${t.sale} lists no items (seeded?)`);
  const redis = connect(t.redis, t.redisMode, t.security);
  await checkRedis(redis, t.redis);
  const kafka = t.kafka
    ? new CliKafka({ clientId: 'flashsale-load', brokers: t.kafka.split(','), security: t.security })
    : undefined;
  const bar = new Progress(run.progress);
  const watch = new SoldOutWatch(redis, t.sale, items);
  try {
    await watch.poll();
    watch.start();
    if (run.output === 'text') {
      process.stderr.write(
        `load: ${fmt(o.attempts)} attempts from ${fmt(o.users)} users (${o.arrival} over ${o.rampSeconds} s) at ${t.url}, sale ${t.sale}, ${items.length} item(s)\n`,
      );
    }
    const rec = await runLoad(
      o,
      items,
      {
        onProgress: (p) =>
          bar.update(
            `${fmt(p.sent)}/${fmt(p.planned)} sent  ${fmt(p.accepted)} accepted  ${fmt(p.sent / Math.max(0.001, p.elapsedMs / 1000))}/s  remaining ${Number.isNaN(watch.lastRemaining) ? '?' : fmt(watch.lastRemaining)}`,
            p.sent,
            p.planned,
          ),
      },
      weights,
    );
    bar.done();
    const v = await verifySale({
      redis,
      sale: t.sale,
      items,
      accepted: rec.acceptedOrders,
      quantity: o.quantity,
      settleSeconds: o.settleSeconds,
      kafka,
      onProgress: (done, total) => bar.update(`${fmt(done)}/${fmt(total)} accepted orders final`, done, total),
    });
    bar.done();
    watch.stop();
    await watch.poll();
    const report = buildReport(t.sale, o, items, rec, v, watch.soldOutAt);
    (run.out ?? process.stdout).write(
      run.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report),
    );
    return { code: report.ok ? EXIT.ok : EXIT.verifyFailed, report };
  } finally {
    watch.stop();
    redis.disconnect();
  }
}
