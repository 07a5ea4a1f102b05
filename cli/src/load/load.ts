/**
 * `flashsale load`: plan the crowd, drive it at the gateway with a progress bar, then audit from Redis and the order
 * stream (verify.ts) and print the table or JSON. Exit 0 only when nothing was oversold or lost.
 */
import { createRedis, parseAddrList, type RedisClient } from '@flashsale/common';
import kafkajs from 'kafkajs';
import { CliError, EXIT, type OutputFormat } from '../exit.ts';
import { readSession } from '../session.ts';
import { type LoadOptions, loadOptionsSchema } from './options.ts';
import { fmt, Progress } from './progress.ts';
import { buildReport, type LoadReport, renderReport } from './report.ts';
import { runLoad } from './run-load.ts';
import { SoldOutWatch, verifySale } from './verify.ts';

const { Kafka, logLevel } = kafkajs;

export interface LoadTarget {
  url?: string | undefined;
  sale?: string | undefined;
  redis?: string | undefined;
  redisMode?: 'single' | 'cluster' | undefined;
  /** brokers; empty: skip reading the order stream back */
  kafka?: string | undefined;
}

/** Flags first, then the running `flashsale up` session. */
export async function resolveTarget(t: LoadTarget): Promise<Required<Omit<LoadTarget, 'kafka'>> & { kafka?: string }> {
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
  return { url, sale, redis, redisMode: t.redisMode ?? s?.redisMode ?? 'single', ...(kafka ? { kafka } : {}) };
}

/** Items of the sale and their remaining stock, from the gateway's GET /v1/sale. */
export async function saleItems(url: string): Promise<{ id: string; remaining: number }[]> {
  const res = await fetch(new URL('/v1/sale', url), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new CliError(`GET /v1/sale answered ${res.status}`);
  const body = (await res.json()) as { items?: { item_id: string; remaining: number }[] };
  return (body.items ?? []).map((i) => ({ id: i.item_id, remaining: i.remaining }));
}

export function connect(addr: string, mode: 'single' | 'cluster'): RedisClient {
  const r = createRedis({ mode, nodes: parseAddrList(addr, '--redis') }, { maxRetriesPerRequest: 2 });
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
  const redis = connect(t.redis, t.redisMode);
  const kafka = t.kafka
    ? new Kafka({ clientId: 'flashsale-load', brokers: t.kafka.split(','), logLevel: logLevel.NOTHING })
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
