/**
 * Processor benchmark (not a test): orders processed per second by one processor process draining a backlog
 * from Kafka (reserve + simulated payment + confirm/release + DLQ), beside the raw Redis EVALSHA ceiling of the
 * same reserve script (one order per call) measured in the same run, so the ratio is visible. The processor reserves
 * and settles whole batches per script call, so the ceiling bounds Redis's share, not the processor's.
 * Measured in turns: `--rounds` processor runs (each a fresh backlog of `--orders` on a sale of its own), each between
 * two ceiling runs; both figures are sums over their runs (count / seconds), so drift falls on both alike. Each run
 * starts with Redis's append-only file just rewritten (`quietAof`), so no rewrite lands inside one run and not another.
 *
 *   node bench/processor.ts [--orders 30000] [--rounds 3] [--items 16] [--partitions 6] [--latency-max 1ms]
 *                           [--failure 0.1] [--timeout-share 0] [--timeout 200ms]
 *
 * Payments answer within the latency range; `--failure` of them fail, declined at once, or, for `--timeout-share` of
 * the failures, hanging until the processor's payment timeout (`--timeout`): then not every payment is 0-1 ms.
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports (make services-up).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  callScript,
  createRedis,
  deleteTopics,
  ensureTopics,
  groupLag,
  parseAddrList,
  processorGroupId,
  reserveArgs,
  saleKeyPatterns,
  seedItem,
  topics,
} from '@flashsale/common';
import kafkajs from 'kafkajs';
import { CpuWindow } from './scale-out.ts';
import { sendOrderBacklog } from './support/backlog.ts';
import { harnessStatus, pidsOf } from './support/harness-status.ts';

const { Kafka, logLevel, Partitioners } = kafkajs;

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '30000' },
    items: { type: 'string', default: '16' },
    partitions: { type: 'string', default: '6' },
    'latency-min': { type: 'string', default: '0ms' },
    'latency-max': { type: 'string', default: '1ms' },
    failure: { type: 'string', default: '0.1' },
    'timeout-share': { type: 'string', default: '0' },
    timeout: { type: 'string', default: '200ms' },
    'ceiling-ops': { type: 'string', default: '50000' },
    window: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const ORDERS = Number(values.orders);
const ITEMS = Number(values.items);
const PARTITIONS = Number(values.partitions);
const ROUNDS = Number(values.rounds);
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const sale = `bench-${randomUUID().slice(0, 8)}`;
const items = Array.from({ length: ITEMS }, (_, i) => `item${i}`);

const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
const kafka = new Kafka({ clientId: 'bench-processor', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
// the harness's Redis and Kafka, for the CPU each part spends per order (none when REDIS_ADDR / KAFKA_ADDR point
// elsewhere: their share then counts as other work)
const services = process.env.REDIS_ADDR || process.env.KAFKA_ADDR ? [] : harnessStatus(['redis', 'kafka']);

/** EVALSHA inventory_reserve as fast as one auto-pipelined connection goes, `window` calls in flight. */
async function ceiling(ops: number, window: number, tag: string): Promise<Timed & { parts: Drained['parts'] }> {
  const s = `${sale}-ceiling-${tag}`;
  for (const i of items) await seedItem(redis, s, i, ops);
  let next = 0;
  const cpu = new CpuWindow({ redis: pidsOf(services, 'redis'), bench: [process.pid] });
  cpu.begin();
  const t0 = performance.now();
  const worker = async () => {
    while (next < ops) {
      const n = next++;
      const item = items[n % items.length]!;
      const { keys, args } = reserveArgs(
        s,
        { orderId: `${item}.c${n}`, itemId: item, userId: `u${n}`, quantity: 1, correlationId: 'c', requestId: 'r' },
        60_000,
      );
      await callScript(redis, 'inventory_reserve', keys, args);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { count: ops, seconds, parts: cpu.end() };
}

/**
 * Before each timed run: no AOF rewrite running, and the AOF just rewritten. Redis's automatic rewrite (when the file
 * has doubled past its minimum size) is a forked child taking most of a core for a second or more: it landed in some
 * runs and not in others and swung the ratio by a tenth either way. So the benchmark rewrites the file between runs
 * itself and turns the automatic rewrite off while it runs (`auto-aof-rewrite-percentage 0`), restoring the setting
 * when it ends, also on failure or SIGTERM.
 */
let aofRewritesAsked = 0;
const aofRewrites = async () =>
  Number(/aof_rewrites:(\d+)/.exec(await (redis as import('ioredis').Redis).info('persistence'))?.[1] ?? 0);
async function quietAof(): Promise<void> {
  const r = redis as import('ioredis').Redis;
  const rewriting = async () => /aof_rewrite_(in_progress|scheduled):1/.test(await r.info('persistence'));
  const settled = async () => {
    for (let waited = 0; await rewriting(); waited += 100) {
      if (waited > 120_000) throw new Error('an AOF rewrite of the Redis under test did not end within 2 minutes');
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  if (!/aof_enabled:1/.test(await r.info('persistence'))) return;
  await settled();
  await r.bgrewriteaof();
  aofRewritesAsked++;
  await settled();
}

/** A count and the seconds it took; rounds add up as sums, not as a mean of rates. */
interface Timed {
  count: number;
  seconds: number;
}
const perSecond = (t: Timed[]) => t.reduce((n, x) => n + x.count, 0) / t.reduce((n, x) => n + x.seconds, 0);

/** One round's sale: its topics, stock for every order (each is reserved and paid), the backlog in Kafka. */
async function prepareRound(round: string): Promise<void> {
  await ensureTopics(admin, { sale: round, partitions: PARTITIONS, replication: 1 });
  for (const i of items) await seedItem(redis, round, i, ORDERS);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await sendOrderBacklog(producer, round, items, ORDERS, 'b');
  await producer.disconnect();
}

async function lag(round: string): Promise<number> {
  const l = await groupLag(admin, processorGroupId(round), topics(round).orders);
  return l.reduce((n, p) => n + p.lag, 0);
}

interface Drained extends Timed {
  /** the processor's own CPU (all its threads) between its first and its last effect, ms (10 ms steps) */
  cpuMs: number;
  /** from the spawn to the last commit */
  secondsWithStartup: number;
  secondsToCommitAfterLastEffect: number;
  /** CPU seconds of each part between the first and the last effect, and the machine's busy share then */
  parts: ReturnType<CpuWindow['end']>;
}

/** The processor of the round being drained. */
let draining: ChildProcess | undefined;

/** One processor process drains the round's backlog; timed from its first effect in Redis to its last. */
async function drain(round: string): Promise<Drained> {
  const child = spawn(process.execPath, [new URL('../processor/src/main.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      SALE_NAME: round,
      REDIS_ADDR: redisAddr,
      KAFKA_ADDR: kafkaAddr,
      LOG_LEVEL: 'error',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      PAYMENT_LATENCY_MIN: values['latency-min'],
      PAYMENT_LATENCY_MAX: values['latency-max'],
      PAYMENT_FAILURE_RATE: values.failure,
      PAYMENT_TIMEOUT_SHARE: values['timeout-share'],
      PAYMENT_TIMEOUT: values.timeout,
      PAYMENT_CONCURRENCY: '1024',
      PARTITIONS_CONCURRENCY: String(PARTITIONS),
      ENSURE_TOPICS: 'false',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  draining = child;
  const spawned = performance.now();
  // start: the first effect in Redis; end: every order settled (confirmed or released); then the commit catches up
  const settled = async () => {
    const m = await Promise.all(
      items.map((i) => redis.hmget(`fs:{${round}:${i}}:meta`, 'confirmed', 'released', 'held')),
    );
    return m.reduce(
      (acc, a) => ({
        done: acc.done + Number(a[0]) + Number(a[1]),
        touched: acc.touched + Number(a[0]) + Number(a[1]) + Number(a[2]),
      }),
      { done: 0, touched: 0 },
    );
  };
  let first = 0;
  let effectsDone = 0;
  const window = new CpuWindow({
    processor: [child.pid ?? 0],
    redis: pidsOf(services, 'redis'),
    kafka: pidsOf(services, 'kafka'),
    bench: [process.pid],
  });
  let parts: Drained['parts'] | undefined;
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const s = await settled();
    if (!first && s.touched > 0) {
      first = performance.now();
      window.begin();
    }
    if (s.done >= ORDERS) {
      effectsDone = performance.now();
      parts = window.end();
      break;
    }
    if (performance.now() - spawned > 600_000) throw new Error(`processor did not settle the backlog (${s.done})`);
  }
  while ((await lag(round)) > 0) await new Promise((r) => setTimeout(r, 50));
  const done = performance.now();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return {
    count: ORDERS,
    seconds: (effectsDone - first) / 1000,
    cpuMs: (parts?.cpuSeconds.processor ?? 0) * 1000,
    secondsWithStartup: (done - spawned) / 1000,
    secondsToCommitAfterLastEffect: (done - effectsDone) / 1000,
    parts: parts!,
  };
}

function cpuPerOrderByPart(runs: (Timed & { parts: Drained['parts'] })[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const d of runs)
    for (const [part, seconds] of Object.entries(d.parts.cpuSeconds)) sums[part] = (sums[part] ?? 0) + seconds;
  const count = runs.reduce((n, d) => n + d.count, 0);
  return Object.fromEntries(Object.entries(sums).map(([part, s]) => [part, Math.round((s * 1e6) / count)]));
}

/** The final statuses of a round's orders, from the items' counters. */
async function outcome(round: string) {
  const audit = await Promise.all(
    items.map((i) => redis.hmget(`fs:{${round}:${i}}:meta`, 'confirmed', 'released', 'held')),
  );
  const confirmed = audit.reduce((n, a) => n + Number(a[0]), 0);
  const released = audit.reduce((n, a) => n + Number(a[1]), 0);
  return { confirmed, released, total: confirmed + released };
}

/** Every key and topic of the run: the rounds' sales and the ceilings' (SCAN, never KEYS). */
async function cleanUp(rounds: string[]): Promise<void> {
  for (const round of rounds) {
    await deleteTopics(admin, round);
    await admin.deleteGroups([processorGroupId(round)]).catch(() => {});
  }
  const ceilings = Array.from({ length: ROUNDS + 1 }, (_, i) => `${sale}-ceiling-${i}`);
  for (const prefix of [...rounds, ...ceilings]) {
    for (const pattern of saleKeyPatterns(prefix)) {
      const r = redis as import('ioredis').Redis;
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await r.unlink(...keys);
      } while (cursor !== '0');
    }
  }
}

/** Turn Redis's automatic AOF rewrite off until the returned function puts the setting back. */
async function pauseAutoRewrite(): Promise<() => Promise<void>> {
  const r = redis as import('ioredis').Redis;
  const [, before] = (await r.config('GET', 'auto-aof-rewrite-percentage')) as [string, string];
  await r.config('SET', 'auto-aof-rewrite-percentage', '0');
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    await r.config('SET', 'auto-aof-rewrite-percentage', before);
  };
  process.once('SIGTERM', () => {
    draining?.kill('SIGTERM'); // no processor left behind to load the next benchmark
    restore().finally(() => process.exit(143));
  });
  return restore;
}

async function main() {
  const restoreAutoRewrite = await pauseAutoRewrite();
  try {
    await measure();
  } finally {
    await restoreAutoRewrite();
  }
  redis.disconnect();
}

async function measure() {
  await admin.connect();
  const rounds = Array.from({ length: ROUNDS }, (_, i) => `${sale}-r${i + 1}`);
  for (const round of rounds) {
    process.stderr.write(`producing ${ORDERS} orders over ${ITEMS} items and ${PARTITIONS} partitions (${round})...\n`);
    await prepareRound(round);
  }
  // in turns: ceiling, processor, ceiling, ..., ceiling: the machine's speed drifts, and each processor run is
  // bracketed by ceilings, so both sides of the ratio see the same drift
  const rewritesBefore = await aofRewrites();
  const ceilings: (Timed & { parts: Drained['parts'] })[] = [];
  const drained: Drained[] = [];
  const ops = Number(values['ceiling-ops']);
  const window = Number(values.window);
  for (const [i, round] of rounds.entries()) {
    process.stderr.write(`round ${i + 1}/${ROUNDS}: the EVALSHA ceiling, then the processor...\n`);
    await quietAof();
    ceilings.push(await ceiling(ops, window, String(i)));
    await quietAof();
    drained.push(await drain(round));
  }
  await quietAof();
  ceilings.push(await ceiling(ops, window, String(ROUNDS)));
  const rewritesInRuns = (await aofRewrites()) - rewritesBefore - aofRewritesAsked;

  const outcomes = await Promise.all(rounds.map(outcome));
  const rate = perSecond(drained);
  const ceil = perSecond(ceilings);
  const cpus = os.cpus();
  const report = {
    sale,
    orders: ORDERS * ROUNDS,
    ordersPerRound: ORDERS,
    rounds: ROUNDS,
    items: ITEMS,
    partitions: PARTITIONS,
    payment: {
      latency: `${values['latency-min']}..${values['latency-max']}`,
      failureRate: Number(values.failure),
      /** share of the failures that hang until the payment timeout instead of declining at once */
      timeoutShare: Number(values['timeout-share']),
      timeout: values.timeout,
    },
    /** every round's orders over the sum of their seconds from the first to the last effect */
    processedPerSecond: Math.round(rate),
    processedPerSecondIncludingStartup: Math.round(
      (ORDERS * ROUNDS) / drained.reduce((n, d) => n + d.secondsWithStartup, 0),
    ),
    processedPerSecondByRound: drained.map((d) => Math.round(d.count / d.seconds)),
    /** each round's CPU seconds per part and the machine's busy share: a slow round with more `other` or a busier
     *  machine was slowed from outside, one with more processor or Redis seconds by its own work */
    partsByRound: drained.map((d) => d.parts),
    /** the processor's own CPU (all its threads) per order between the first and the last effect: steadier than
     *  orders/s on a shared machine */
    processorCpuUsPerOrder: Math.round((drained.reduce((n, d) => n + d.cpuMs, 0) * 1000) / (ORDERS * ROUNDS)),
    secondsToCommitAfterLastEffect: Number(
      Math.max(...drained.map((d) => d.secondsToCommitAfterLastEffect)).toFixed(2),
    ),
    /** CPU µs per order of each part while the processor drained (the processor, Redis, Kafka, this benchmark's
     *  polling, everything else), and the machine's busy share then: where the two cores went */
    cpuUsPerOrderByPart: cpuPerOrderByPart(drained),
    /** the same for the ceiling's calls (one order each): the part at 1 CPU second per second bounds it */
    ceilingCpuUsPerCallByPart: cpuPerOrderByPart(ceilings),
    /** AOF rewrites that started inside a timed run (the benchmark's own between runs not counted; expected 0) */
    aofRewritesInTimedRuns: rewritesInRuns,
    machineBusyWhileDraining: Number(
      (
        drained.reduce((n, d) => n + d.parts.machineBusy * d.parts.wall, 0) /
        drained.reduce((n, d) => n + d.parts.wall, 0)
      ).toFixed(3),
    ),
    evalshaCeilingPerSecond: Math.round(ceil),
    evalshaCeilingByRun: ceilings.map((c) => Math.round(c.count / c.seconds)),
    ratioOrdersToEvalsha: Number((rate / ceil).toFixed(3)),
    outcome: {
      confirmed: outcomes.reduce((n, o) => n + o.confirmed, 0),
      released: outcomes.reduce((n, o) => n + o.released, 0),
      total: outcomes.reduce((n, o) => n + o.total, 0),
    },
    machine: {
      cpu: cpus[0]?.model,
      cores: cpus.length,
      memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      /** other work on the machine skews every figure: read them with this */
      loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `processor: ${report.processedPerSecond} orders/s (${report.processorCpuUsPerOrder} µs CPU per order; rounds ${report.processedPerSecondByRound.join(', ')}); ` +
      `EVALSHA ceiling ${report.evalshaCeilingPerSecond}/s (runs ${report.evalshaCeilingByRun.join(', ')}) ` +
      `(ratio ${report.ratioOrdersToEvalsha}); CPU µs per order ${JSON.stringify(report.cpuUsPerOrderByPart)}, machine ${report.machineBusyWhileDraining} busy; ceiling CPU µs per call ${JSON.stringify(report.ceilingCpuUsPerCallByPart)} ` +
      `on ${report.machine.cores} x ${report.machine.cpu}, load average ${report.machine.loadAverage1m}\n`,
  );
  await cleanUp(rounds);
  await admin.disconnect();
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
