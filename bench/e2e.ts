/**
 * End-to-end benchmark (not a test): a whole sale on this machine through `flashsale up` (gateway + processor as
 * child processes on the real Redis and Kafka) and `flashsale load` (the crowd, then the audit from Redis and the
 * order stream). Reports the time from the first order until sold out beside its ceiling (2x the time the delivered
 * load takes to bring as many orders as there are units), oversold and lost units, and the peak RSS (VmHWM) of the
 * gateway and processor processes.
 *
 *   node bench/e2e.ts [--units 10000] [--attempts 200000] [--users 50000] [--items 4] [--processors 1] [--partitions 6]
 *     [--env NAME=V,...]   (variables for the gateway and processors, e.g. V8_MAX_SEMI_SPACE_MB=0 for V8's default)
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports (make services-up). The last line of stdout is the JSON.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoadCommand } from '../cli/src/load/load.ts';
import { LOAD_DEFAULTS } from '../cli/src/load/options.ts';
import { startUp } from '../cli/src/up.ts';
import { freePort } from '../e2e/support/wait.ts';

process.removeAllListeners('warning');

const { values } = parseArgs({
  options: {
    units: { type: 'string', default: '10000' },
    attempts: { type: 'string', default: '200000' },
    users: { type: 'string', default: '50000' },
    items: { type: 'string', default: '4' },
    processors: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '6' },
    ramp: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '256' },
    env: { type: 'string', default: '' },
  },
});
const UNITS = Number(values.units);
const ITEMS = Number(values.items);
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const childEnv = Object.fromEntries(
  values.env
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const sale = `bench-e2e-${randomUUID().slice(0, 8)}`;

/** Peak resident set size of a live process, in MB (Linux /proc VmHWM). */
async function peakRssMb(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmHWM:\s+(\d+) kB/.exec(text);
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

async function main() {
  const per = Math.floor(UNITS / ITEMS);
  const items = Array.from({ length: ITEMS }, (_, i) => ({
    id: `item-${i}`,
    quantity: i === ITEMS - 1 ? UNITS - per * (ITEMS - 1) : per,
  }));
  const file = join(tmpdir(), `${sale}.yaml`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'flashsale.dev/v1alpha1',
      kind: 'FlashSale',
      metadata: { name: sale },
      spec: {
        startsAt: '2026-01-01T00:00:00Z',
        endsAt: '2026-01-01T02:00:00Z',
        items,
        topics: { partitions: Number(values.partitions) },
        processor: { replicas: Number(values.processors) },
      },
    }),
  );
  const metricsPort = await freePort();
  const up = await startUp({
    file,
    redis: redisAddr,
    kafka: kafkaAddr,
    host: '127.0.0.1',
    port: await freePort(),
    metricsPort: metricsPort > 65000 ? 39090 : metricsPort,
    processors: Number(values.processors),
    now: true,
    logLevel: 'warn',
    deleteOnExit: true,
    env: childEnv,
    output: 'json',
  });
  let result: Record<string, unknown>;
  try {
    const { report } = await runLoadCommand({
      target: { url: up.session.gatewayUrl, sale, redis: redisAddr, kafka: kafkaAddr },
      output: 'text',
      progress: false,
      out: process.stderr,
      options: {
        ...LOAD_DEFAULTS,
        url: up.session.gatewayUrl,
        users: Number(values.users),
        attempts: Number(values.attempts),
        rampSeconds: Number(values.ramp),
        concurrency: Number(values.concurrency),
        spread: 'stock',
        settleSeconds: 120,
      },
    });
    const rss: Record<string, number | null> = {};
    for (const [name, pid] of Object.entries(up.pids)) rss[name] = await peakRssMb(pid);
    // the delivered load: how long the achieved request rate takes to bring as many orders as there are units
    const deliverMs = (UNITS / Math.max(1, report.achievedRate)) * 1000;
    const ceilingMs = 2 * deliverMs;
    result = {
      sale,
      units: UNITS,
      items: ITEMS,
      attempts: report.attempts,
      users: Number(values.users),
      processors: Number(values.processors),
      partitions: Number(values.partitions),
      achievedRate: Math.round(report.achievedRate),
      offeredRate: Math.round(report.offeredRate),
      latencyMs: report.latencyMs,
      accepted: report.accepted,
      confirmed: report.confirmed,
      soldOutAfterMs: report.soldOutAfterMs,
      deliverStockMs: Math.round(deliverMs),
      soldOutCeilingMs: Math.round(ceilingMs),
      /** ceiling / actual: >= 1 meets the target */
      soldOutRatio: report.soldOutAfterMs ? Number((ceilingMs / report.soldOutAfterMs).toFixed(3)) : 0,
      oversold: report.oversold,
      lost: report.lost,
      dlq: report.dlq,
      peakRssMb: rss,
    };
  } finally {
    await up.stop();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
process.exit(0);
