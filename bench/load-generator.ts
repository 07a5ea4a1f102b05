/**
 * Load-generator benchmark (not a test): can `flashsale load` offer at least twice what the gateway accepts on the
 * same machine (issue 17, deliverable 4)? Three measurements in one run:
 *
 * 1. ceiling: `flashsale load`'s engine (runLoad: the crowd plan, the lanes, the tally; no audit) against the
 *    cheapest HTTP server (bench/http-202.ts answers every POST 202), once per thread count in --workers, beside
 *    autocannon against the same server: what the generator alone can offer, and how that compares with a tuned
 *    generator;
 * 2. the gateway: `flashsale up` (gateway + processor on the harness's Redis and Kafka, rate limits lifted, stock far
 *    above the attempts so every new order takes the full path) driven by the whole `flashsale load` command, audit
 *    included (every accepted order final in Redis and in the order topic, 0 oversold);
 * 3. the same gateway driven by autocannon (unique users, keys and client addresses) for as long as the burst took.
 *
 * Ratios: the generator's rate on the ceiling server over the gateway's accepted orders/s (the larger of 2 and 3;
 * target >= 2), the gateway's rate under `flashsale load` over its rate under autocannon (about 1 when the generator
 * does not hold the gateway back), and the generator's CPU per request beside the gateway's CPU per accepted order.
 *
 *   node bench/load-generator.ts [--attempts 60000] [--users 15000] [--gateway-attempts 40000]
 *     [--concurrency 256] [--workers 1,2] [--sse-share 0.05] [--engine <a checkout's cli/src/load/run-load.ts>]
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports (make services-up). The last line of stdout is the JSON.
 *
 * --engine measures another checkout's generator on the ceiling server only (before/after figures).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runLoadCommand } from '../cli/src/load/load.ts';
import { LOAD_DEFAULTS, type LoadOptions } from '../cli/src/load/options.ts';
import type { LoadRecord } from '../cli/src/load/run-load.ts';
import { startUp } from '../cli/src/up.ts';
import { freePort } from '../e2e/support/wait.ts';
import { cpuMs } from './scale-out.ts';
import { orderRequests } from './support/order-requests.ts';

process.removeAllListeners('warning');

const { values } = parseArgs({
  options: {
    attempts: { type: 'string', default: '60000' },
    users: { type: 'string', default: '15000' },
    'gateway-attempts': { type: 'string', default: '40000' },
    concurrency: { type: 'string', default: '256' },
    workers: { type: 'string', default: '1,2' },
    /** share of accepted orders followed over SSE in the gateway run (flashsale load's default) */
    'sse-share': { type: 'string', default: String(LOAD_DEFAULTS.sseShare) },
    engine: { type: 'string', default: new URL('../cli/src/load/run-load.ts', import.meta.url).pathname },
  },
});
const ATTEMPTS = Number(values.attempts);
const USERS = Number(values.users);
const GW_ATTEMPTS = Number(values['gateway-attempts']);
const CONCURRENCY = Number(values.concurrency);
const WORKERS = String(values.workers).split(',').map(Number);
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const load1 = () => Number((loadavg()[0] ?? 0).toFixed(2));

type RunLoad = (o: LoadOptions, items: string[]) => Promise<LoadRecord>;

async function startCeiling(): Promise<{ url: string; stop: () => Promise<void>; pid: number | undefined }> {
  const port = await freePort();
  const child = spawn(process.execPath, [new URL('./http-202.ts', import.meta.url).pathname], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 20_000; ; ) {
    if (
      await fetch(`${url}/livez`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > until || child.exitCode !== null) throw new Error('bench/http-202.ts did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    },
  };
}

/** The generator's engine alone (no audit) against `url`; CPU of this process per request. */
async function generate(runLoad: RunLoad, url: string, workers: number, serverPid: number | undefined, share = 1) {
  const o: LoadOptions = {
    ...LOAD_DEFAULTS,
    url,
    users: Math.max(1, Math.round(USERS * share)),
    attempts: Math.max(1, Math.round(ATTEMPTS * share)),
    rampSeconds: 1,
    concurrency: CONCURRENCY,
    workers,
    // the ceiling server has no event stream
    sseShare: 0,
    settleSeconds: 0,
  };
  const load0 = load1();
  const cpu0 = process.cpuUsage();
  const s0 = cpuMs(serverPid);
  const rec = await runLoad(o, ['item-0', 'item-1', 'item-2', 'item-3']);
  const cpu = process.cpuUsage(cpu0);
  const ms = (cpu.user + cpu.system) / 1000;
  return {
    workers,
    attempts: rec.attempts,
    answered: rec.byStatusCode,
    seconds: Number((rec.durationMs / 1000).toFixed(2)),
    requestsPerSecond: Math.round(rec.achievedRate),
    p50: Number(rec.latencyMs.p50.toFixed(1)),
    p99: Number(rec.latencyMs.p99.toFixed(1)),
    cpuUsPerRequest: Number(((ms * 1000) / Math.max(1, rec.attempts)).toFixed(1)),
    serverCpuUsPerRequest: Number((((cpuMs(serverPid) - s0) * 1000) / Math.max(1, rec.attempts)).toFixed(1)),
    loadAverage: [load0, load1()],
  };
}

/** autocannon with unique users, keys and client addresses (so no rate limit or idempotency record is shared). */
async function cannon(url: string, seconds: number, item: string) {
  const load0 = load1();
  const cpu0 = process.cpuUsage();
  const r = await autocannon({
    url,
    connections: CONCURRENCY,
    duration: seconds,
    requests: orderRequests(
      item,
      (n, run) => `ac-${run}-${n}`,
      (n) => ({ 'x-forwarded-for': `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` }),
    ),
  });
  const cpu = process.cpuUsage(cpu0);
  return {
    requests: r.requests.total,
    accepted: r['2xx'],
    requestsPerSecond: Math.round(r.requests.total / seconds),
    acceptedPerSecond: Math.round(r['2xx'] / seconds),
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuUsPerRequest: Number(((cpu.user + cpu.system) / Math.max(1, r.requests.total)).toFixed(1)),
    loadAverage: [load0, load1()],
  };
}

/** `flashsale up` with ample stock and the rate limits lifted; the whole `flashsale load` (audit too); autocannon. */
async function gateway(workers: number) {
  const sale = `bench-load-${randomUUID().slice(0, 8)}`;
  const items = Array.from({ length: 4 }, (_, i) => ({ id: `item-${i}`, quantity: 1_000_000 }));
  const file = join(tmpdir(), `${sale}.yaml`);
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'flashsale.dev/v1alpha1',
      kind: 'FlashSale',
      metadata: { name: sale },
      spec: { startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-01-01T02:00:00Z', items, topics: { partitions: 6 } },
    }),
  );
  const metricsPort = await freePort();
  const up = await startUp({
    file,
    redis: redisAddr,
    kafka: kafkaAddr,
    host: '127.0.0.1',
    port: await freePort(),
    metricsPort: metricsPort > 65000 ? 39091 : metricsPort,
    processors: 1,
    now: true,
    logLevel: 'warn',
    deleteOnExit: true,
    // the gateway's full path for every order: no bucket empties (bots share client addresses)
    env: { RATE_LIMIT_MAX_REQUESTS: '1000000', RATE_LIMIT_IP_MAX_REQUESTS: '10000000' },
    output: 'json',
  });
  try {
    const gw = up.pids.gateway;
    const load0 = load1();
    // the gateway's CPU over the burst only (not the audit after it): sampled, then read at the burst's end
    const samples: [number, number][] = [[Date.now(), cpuMs(gw)]];
    const sampler = setInterval(() => samples.push([Date.now(), cpuMs(gw)]), 100);
    const { report } = await runLoadCommand({
      target: { url: up.session.gatewayUrl, sale, redis: redisAddr, kafka: kafkaAddr },
      output: 'text',
      progress: false,
      out: process.stderr,
      options: {
        ...LOAD_DEFAULTS,
        url: up.session.gatewayUrl,
        users: Math.round(GW_ATTEMPTS / 4),
        attempts: GW_ATTEMPTS,
        rampSeconds: 2,
        concurrency: CONCURRENCY,
        workers,
        sseShare: Number(values['sse-share']),
        settleSeconds: 120,
      },
    }).finally(() => clearInterval(sampler));
    const burstEnd = Date.parse(report.startedAt) + report.burstMs;
    const atEnd = samples.find(([t]) => t >= burstEnd) ?? samples[samples.length - 1];
    const gwCpu = (atEnd?.[1] ?? Number.NaN) - (samples[0]?.[1] ?? 0);
    const burstSeconds = report.burstMs / 1000;
    const flashsale = {
      workers,
      attempts: report.attempts,
      accepted: report.accepted,
      answered: report.byStatusCode,
      seconds: Number(burstSeconds.toFixed(2)),
      requestsPerSecond: Math.round(report.achievedRate),
      acceptedPerSecond: Math.round(report.accepted / Math.max(0.001, burstSeconds)),
      p50: Number(report.latencyMs.p50.toFixed(1)),
      p99: Number(report.latencyMs.p99.toFixed(1)),
      generatorCpuUsPerRequest: Number((report.generator.cpuMsPerRequest * 1000).toFixed(1)),
      gatewayCpuUsPerAccepted: Math.round((gwCpu * 1000) / Math.max(1, report.accepted)),
      oversold: report.oversold,
      lost: report.lost,
      auditOk: report.ok,
      loadAverage: [load0, load1()],
    };
    const g1 = cpuMs(gw);
    const ac = await cannon(up.session.gatewayUrl, Math.min(15, Math.max(5, Math.round(burstSeconds))), 'item-0');
    const autocannonRun = {
      ...ac,
      gatewayCpuUsPerAccepted: Math.round(((cpuMs(gw) - g1) * 1000) / Math.max(1, ac.accepted)),
    };
    return { sale, flashsale, autocannon: autocannonRun };
  } finally {
    await up.stop();
  }
}

async function main() {
  const load0 = load1();
  const ceiling = await startCeiling();
  const engine = (await import(resolve(String(values.engine)))) as { runLoad: RunLoad };
  const generator: Awaited<ReturnType<typeof generate>>[] = [];
  let reference: Awaited<ReturnType<typeof cannon>>;
  try {
    // a short warm-up of both clients and the server
    await generate(engine.runLoad, ceiling.url, 1, ceiling.pid, 0.2);
    for (const w of WORKERS) generator.push(await generate(engine.runLoad, ceiling.url, w, ceiling.pid));
    reference = await cannon(ceiling.url, 5, 'item-0');
  } finally {
    await ceiling.stop();
  }
  const best = generator.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
  const result: Record<string, unknown> = { engine: values.engine, ceiling: { generator, autocannon: reference } };
  if (resolve(String(values.engine)) === new URL('../cli/src/load/run-load.ts', import.meta.url).pathname) {
    const gw = await gateway(best.workers);
    const gatewayAccepted = Math.max(gw.flashsale.acceptedPerSecond, gw.autocannon.acceptedPerSecond);
    Object.assign(result, {
      gateway: gw,
      ratios: {
        /** what the generator can offer over what the gateway accepts (target >= 2) */
        offeredOverGatewayAccepted: Number((best.requestsPerSecond / Math.max(1, gatewayAccepted)).toFixed(2)),
        /** the generator on the ceiling server over autocannon on it */
        generatorOverAutocannon: Number((best.requestsPerSecond / Math.max(1, reference.requestsPerSecond)).toFixed(2)),
        /** the gateway's accepted rate under `flashsale load` over under autocannon (about 1: not held back) */
        gatewayUnderLoadOverAutocannon: Number(
          (gw.flashsale.acceptedPerSecond / Math.max(1, gw.autocannon.acceptedPerSecond)).toFixed(2),
        ),
        /** the generator's CPU per request over the gateway's CPU per accepted order */
        generatorCpuOverGatewayCpu: Number(
          (gw.flashsale.generatorCpuUsPerRequest / Math.max(1, gw.flashsale.gatewayCpuUsPerAccepted)).toFixed(3),
        ),
      },
    });
  }
  result.loadAverage = [load0, load1()];
  console.error(JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
process.exit(0);
