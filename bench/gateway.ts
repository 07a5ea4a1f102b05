/**
 * Gateway benchmark (not a test): accepted orders per second and p50/p99 latency of the full order path
 * (validation, rate limit, idempotency, order record, Kafka acknowledged with acks=all) on the real Redis and
 * Kafka, beside two ceilings measured in the same run with the same load, so the overhead is a ratio:
 *
 * - no-op: a fastify route that parses the body and answers 202 (bench/gateway-noop.ts);
 * - floor: one admission-sized Redis script and one acks=all Kafka send per request, nothing else
 *   (bench/gateway-floor.ts).
 *
 * The three are measured in turns (`--rounds`, each server `--duration` seconds a round, the order rotated every
 * round) and each figure sums its rounds: the machine's speed drifts by a fifth within minutes, and in one run of
 * each, seconds apart, the ratios moved with whichever server happened to get the faster minute.
 *
 * Then the full path again at 80 % of its saturated rate (the p99 that counts), Redis work per accepted order from
 * `INFO commandstats` (script calls, and every command including those run inside scripts; the gateway's once-a-second
 * stock poll, counted while it idles, is taken off), the CPU each server spent per accepted order, and the RSS.
 * Redis is a private redis-server of this run (AOF everysec, as production runs it), so the command counts are this
 * run's alone; Kafka is the harness's.
 *
 *   node bench/gateway.ts [--duration 10] [--rounds 3] [--connections 50] [--warmup 2] [--gateway gateway/src/main.ts]
 *                        [--floor-client kafkajs|platformatic]
 *   KAFKA_ADDR defaults to the harness's port (make services-up). --gateway measures another checkout's gateway.
 *
 * Every server runs as its own process; autocannon drives them from this one.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRedis, parseAddrList, seedItem, topics } from '@flashsale/common';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';
import { ThrowawayRedis } from '../e2e/support/throwaway-redis.ts';
import { commandStats, cpuMs, perOrder } from './scale-out.ts';
import { orderRequests } from './support/order-requests.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '2' },
    gateway: { type: 'string', default: new URL('../gateway/src/main.ts', import.meta.url).pathname },
    /** the floor's Kafka client: kafkajs (the gateway's) or platformatic (bench/gateway-floor.ts) */
    'floor-client': { type: 'string', default: 'kafkajs' },
  },
});
const duration = Number(values.duration);
const rounds = Math.max(1, Number(values.rounds));
const connections = Number(values.connections);
const warmup = Number(values.warmup);
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const sale = `bench-${randomUUID().slice(0, 8)}`;
const ITEM = 'widget';
const USERS = 20_000;

async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

async function startServer(script: string, env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(script)], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/livez`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) return { child, url };
    if (Date.now() > until) throw new Error(`${script} did not answer on ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resident set size now and at its peak (VmHWM), MB, from /proc. */
function rssMb(pid: number | undefined): { now: number; peak: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(s)?.[1] ?? Number.NaN);
    return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return null;
  }
}

type Stats = ReturnType<typeof commandStats>;

/** `end` less `scale` x what each command did between `idleFrom` and `idleTo` (the idle window's background). */
function withoutBackground(end: Stats, idleFrom: Stats, idleTo: Stats, scale: number): Stats {
  const out: Stats = new Map();
  for (const [k, v] of end) {
    const a = idleFrom.get(k) ?? { calls: 0, usec: 0 };
    const b = idleTo.get(k) ?? a;
    out.set(k, {
      calls: v.calls - Math.round((b.calls - a.calls) * scale),
      usec: v.usec - Math.round((b.usec - a.usec) * scale),
    });
  }
  return out;
}

/** Calls per order of each command between two snapshots (those above 0.005). */
function byCommand(a: Stats, b: Stats, orders: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const per = (v.calls - (a.get(k)?.calls ?? 0)) / Math.max(1, orders);
    if (k !== 'info' && per >= 0.005) out[k] = Number(per.toFixed(3));
  }
  return out;
}

/**
 * One measured run against `server`, with the server's CPU ms per accepted request: on a machine shared with other
 * work the rate moves with the load, the CPU a request costs the server much less.
 */
async function measure(
  server: { url: string; child: { pid?: number | undefined } },
  seconds: number,
  label: string,
  overallRate?: number,
) {
  const c0 = cpuMs(server.child.pid);
  const r = await load(server.url, seconds, label, overallRate);
  const cpu = cpuMs(server.child.pid) - c0;
  return { ...r, cpuMsPerAccepted: Number((cpu / Math.max(1, r.ok2xx)).toFixed(3)) };
}

async function load(url: string, seconds: number, label: string, overallRate?: number) {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    // 20,000 users: the per-user bucket (60) never empties
    requests: orderRequests(ITEM, (n) => `u-${n % USERS}`),
  });
  return {
    label,
    requests: result.requests.total,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rps: result.requests.average,
    acceptedPerSecond: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
  };
}

type Run = Awaited<ReturnType<typeof measure>>;

/** Rounds of one server as one run: counts and CPU summed, the rate over all its seconds, p50/p99 the median round's. */
function combine(runs: Run[]): Run & { rounds?: number } {
  const first = runs[0];
  if (!first) throw new Error('no rounds to combine');
  const sum = (f: (r: Run) => number) => runs.reduce((s, r) => s + f(r), 0);
  const median = (f: (r: Run) => number) => {
    const v = runs.map(f).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)] ?? Number.NaN;
  };
  const statusCodes: Record<string, number> = {};
  for (const r of runs)
    for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + (v ?? 0);
  const ok2xx = sum((r) => r.ok2xx);
  return {
    label: first.label,
    requests: sum((r) => r.requests),
    ok2xx,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    rps: sum((r) => r.rps) / runs.length,
    acceptedPerSecond: ok2xx / (duration * runs.length),
    p50: median((r) => r.p50),
    p99: median((r) => r.p99),
    statusCodes,
    cpuMsPerAccepted: Number((sum((r) => r.cpuMsPerAccepted * r.ok2xx) / Math.max(1, ok2xx)).toFixed(3)),
    rounds: runs.length,
  };
}

/** `b - a` per command. */
function delta(a: Stats, b: Stats): Stats {
  const out: Stats = new Map();
  for (const [k, v] of b) {
    const x = a.get(k) ?? { calls: 0, usec: 0 };
    out.set(k, { calls: v.calls - x.calls, usec: v.usec - x.usec });
  }
  return out;
}

/** `into += d` per command. */
function add(into: Stats, d: Stats): void {
  for (const [k, v] of d) {
    const x = into.get(k) ?? { calls: 0, usec: 0 };
    into.set(k, { calls: x.calls + v.calls, usec: x.usec + v.usec });
  }
}

async function main() {
  const redisServer = new ThrowawayRedis();
  await redisServer.start();
  const redisAddr = redisServer.addr;
  const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
  const kafka = new Kafka({ clientId: 'bench', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: topics(sale).orders, numPartitions: 6 }], waitForLeaders: true });
  await seedItem(redis, sale, ITEM, 100_000_000);
  const stats = async () => commandStats(await redis.info('commandstats'));

  const env = { SALE_NAME: sale, REDIS_ADDR: redisAddr, KAFKA_ADDR: kafkaAddr };
  const noop = await startServer(new URL('./gateway-noop.ts', import.meta.url).pathname, {});
  const floor = await startServer(new URL('./gateway-floor.ts', import.meta.url).pathname, {
    ...env,
    FLOOR_KAFKA_CLIENT: String(values['floor-client']),
  });
  const gw = await startServer(String(values.gateway), {
    ...env,
    HOST: '127.0.0.1',
    // per-order INFO lines are not part of the measured path
    LOG_LEVEL: 'warn',
    RATE_LIMIT_IP_MAX_REQUESTS: '10000000',
  });
  const load0 = loadavg()[0] ?? 0;
  try {
    if (warmup > 0) {
      for (const s of [noop, floor, gw]) await load(s.url, warmup, 'warmup');
    }
    const offsets = async () =>
      (await admin.fetchTopicOffsets(topics(sale).orders)).reduce((s, p) => s + Number(p.high), 0);
    // the gateway's own background reads (the stock poll, once a second) do not scale with orders: counted while it
    // idles and taken off each of its runs
    const quiet = 3;
    const sQuiet = await stats();
    await new Promise((r) => setTimeout(r, quiet * 1000));
    const sIdle = await stats();
    const runs = { base: [] as Run[], floor: [] as Run[], full: [] as Run[] };
    const floorStats: Stats = new Map();
    const fullStats: Stats = new Map();
    let produced = 0;
    const servers = [
      { key: 'base' as const, run: () => measure(noop, duration, 'no-op fastify route') },
      {
        key: 'floor' as const,
        run: async () => {
          const a = await stats();
          const r = await measure(floor, duration, 'floor (script + send)');
          add(floorStats, delta(a, await stats()));
          return r;
        },
      },
      {
        key: 'full' as const,
        run: async () => {
          const a = await stats();
          const before = await offsets();
          const r = await measure(gw, duration, 'gateway full path');
          // the requests in flight when autocannon stopped finish (their orders reach Kafka) before anything is
          // counted
          await new Promise((res) => setTimeout(res, 500));
          produced += (await offsets()) - before;
          add(fullStats, withoutBackground(delta(a, await stats()), sQuiet, sIdle, (duration + 0.5) / quiet));
          return r;
        },
      },
    ];
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < servers.length; j++) {
        const s = servers[(i + j) % servers.length];
        if (s) runs[s.key].push(await s.run());
      }
    }
    const base = combine(runs.base);
    const floorRun = combine(runs.floor);
    const full = combine(runs.full);
    // each round's own ratios (its three runs were seconds apart): the spread says how far the machine's drift moves
    // the summed ratio, which is the figure that counts
    const roundRatios = runs.full.map((f, i) => ({
      fullToNoop: Number((f.acceptedPerSecond / (runs.base[i]?.acceptedPerSecond ?? Number.NaN)).toFixed(3)),
      fullToFloor: Number((f.acceptedPerSecond / (runs.floor[i]?.acceptedPerSecond ?? Number.NaN)).toFixed(3)),
    }));
    const rss = { gateway: rssMb(gw.child.pid), floor: rssMb(floor.child.pid), noop: rssMb(noop.child.pid) };
    const rate80 = Math.max(1, Math.round(full.acceptedPerSecond * 0.8));
    const at80 = await measure(gw, duration, 'gateway at 80 % rate', rate80);
    // Per order that went through: the orders Kafka took in the windows, not the 202s autocannon counted, which leave
    // out the requests in flight when it stopped (their commands are in the window: 8.00 per order read as 8.01).
    const orders = Math.max(full.ok2xx, produced);
    const none: Stats = new Map();
    const redisPerOrder = {
      full: { ...perOrder(none, fullStats, orders), byCommand: byCommand(none, fullStats, orders) },
      floor: perOrder(none, floorStats, floorRun.ok2xx),
    };

    const fmt = (r: typeof base) =>
      `${r.label.padEnd(24)} ${r.acceptedPerSecond.toFixed(0).padStart(8)} /s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms  CPU ${r.cpuMsPerAccepted.toFixed(3)} ms/order  (${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`;
    console.log(
      `\ngateway benchmark: ${connections} connections, ${rounds} round(s) of ${duration} s per server in turns, sale ${sale}`,
    );
    for (const r of [base, floorRun, full, at80]) console.log(fmt(r));
    console.log(
      `ratio full/no-op ${(full.acceptedPerSecond / base.acceptedPerSecond).toFixed(3)}, full/floor ` +
        `${(full.acceptedPerSecond / floorRun.acceptedPerSecond).toFixed(3)}, floor/no-op ` +
        `${(floorRun.acceptedPerSecond / base.acceptedPerSecond).toFixed(3)}`,
    );
    console.log(
      `per round: full/no-op ${roundRatios.map((r) => r.fullToNoop).join(', ')}; full/floor ` +
        roundRatios.map((r) => r.fullToFloor).join(', '),
    );
    console.log(
      `Redis per accepted order: full path ${redisPerOrder.full.scriptCalls} script calls, ` +
        `${redisPerOrder.full.commands} commands ${JSON.stringify(redisPerOrder.full.byCommand)}; floor ` +
        `${redisPerOrder.floor.scriptCalls} / ${redisPerOrder.floor.commands}`,
    );
    console.log(
      `RSS MB (now / peak): ${JSON.stringify(rss)}; load average ${load0.toFixed(1)} -> ${loadavg()[0]?.toFixed(1)}`,
    );
    console.log(`Kafka messages produced during the measured runs: ${produced} (202 answers: ${full.ok2xx})`);
    console.log(
      JSON.stringify({
        sale,
        connections,
        duration,
        rounds,
        base,
        floor: floorRun,
        full,
        at80: { ...at80, offeredRate: rate80 },
        roundRatios,
        produced,
        redisPerOrder,
        rssMb: rss,
        loadAverage: [Number(load0.toFixed(2)), Number((loadavg()[0] ?? 0).toFixed(2))],
      }),
    );
  } finally {
    for (const s of [noop, floor, gw]) s.child.kill('SIGTERM');
    await Promise.all(
      [noop.child, floor.child, gw.child].map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)),
    );
    await admin.deleteTopics({ topics: [topics(sale).orders] }).catch(() => {});
    await admin.disconnect();
    await redis.quit();
    await redisServer.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
