/**
 * Processor benchmark (not a test): orders processed per second by one processor process draining a backlog
 * from Kafka (reserve + simulated payment + confirm/release + DLQ), beside the raw Redis EVALSHA ceiling of the
 * same reserve script (one order per call) measured in the same run, so the ratio is visible. The processor reserves
 * and settles whole batches per script call, so the ceiling bounds Redis's share, not the processor's.
 *
 *   node bench/processor.ts [--orders 30000] [--items 16] [--partitions 6] [--latency-max 1ms] [--failure 0.1]
 *                           [--timeout-share 0] [--timeout 200ms]
 *
 * Payments answer within the latency range; `--failure` of them fail, declined at once, or, for `--timeout-share` of
 * the failures, hanging until the processor's payment timeout (`--timeout`): then not every payment is 0-1 ms.
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports (make services-up).
 */
import { spawn } from 'node:child_process';
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
import { cpuMs } from './scale-out.ts';
import { sendOrderBacklog } from './support/backlog.ts';

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
  },
});
const ORDERS = Number(values.orders);
const ITEMS = Number(values.items);
const PARTITIONS = Number(values.partitions);
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const sale = `bench-${randomUUID().slice(0, 8)}`;
const items = Array.from({ length: ITEMS }, (_, i) => `item${i}`);

const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
const kafka = new Kafka({ clientId: 'bench-processor', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();

/** EVALSHA inventory_reserve as fast as one auto-pipelined connection goes, `window` calls in flight. */
async function ceiling(ops: number, window: number, tag: string): Promise<number> {
  const s = `${sale}-ceiling-${tag}`;
  for (const i of items) await seedItem(redis, s, i, ops);
  let next = 0;
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
  return ops / ((performance.now() - t0) / 1000);
}

async function produceBacklog(): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await sendOrderBacklog(producer, sale, items, ORDERS, 'b');
  await producer.disconnect();
}

async function lag(): Promise<number> {
  const l = await groupLag(admin, processorGroupId(sale), topics(sale).orders);
  return l.reduce((n, p) => n + p.lag, 0);
}

async function main() {
  await admin.connect();
  await ensureTopics(admin, { sale, partitions: PARTITIONS, replication: 1 });
  for (const i of items) await seedItem(redis, sale, i, ORDERS); // enough stock: every order is reserved and paid
  process.stderr.write(`producing ${ORDERS} orders over ${ITEMS} items and ${PARTITIONS} partitions...\n`);
  await produceBacklog();

  process.stderr.write('measuring the EVALSHA ceiling...\n');
  const ceilBefore = await ceiling(Number(values['ceiling-ops']), Number(values.window), 'before');

  process.stderr.write('starting the processor...\n');
  const child = spawn(process.execPath, [new URL('../processor/src/main.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      SALE_NAME: sale,
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
  const spawned = performance.now();
  // start: the first effect in Redis; end: every order settled (confirmed or released); then the commit catches up
  const settled = async () => {
    const m = await Promise.all(
      items.map((i) => redis.hmget(`fs:{${sale}:${i}}:meta`, 'confirmed', 'released', 'held')),
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
  let cpuAtFirst = 0;
  let cpuAtDone = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 25));
    const s = await settled();
    if (!first && s.touched > 0) {
      first = performance.now();
      cpuAtFirst = cpuMs(child.pid);
    }
    if (s.done >= ORDERS) {
      effectsDone = performance.now();
      cpuAtDone = cpuMs(child.pid);
      break;
    }
    if (performance.now() - spawned > 600_000) throw new Error(`processor did not settle the backlog (${s.done})`);
  }
  while ((await lag()) > 0) await new Promise((r) => setTimeout(r, 50));
  const done = performance.now();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));

  // the ceiling again after the run: the machine is shared, so bracket the processor run
  process.stderr.write('measuring the EVALSHA ceiling again...\n');
  const ceilAfter = await ceiling(Number(values['ceiling-ops']), Number(values.window), 'after');
  const ceil = (ceilBefore + ceilAfter) / 2;
  const audit = await Promise.all(
    items.map((i) => redis.hmget(`fs:{${sale}:${i}}:meta`, 'confirmed', 'released', 'held')),
  );
  const confirmed = audit.reduce((n, a) => n + Number(a[0]), 0);
  const released = audit.reduce((n, a) => n + Number(a[1]), 0);
  const rate = ORDERS / ((effectsDone - first) / 1000);
  const withStart = ORDERS / ((done - spawned) / 1000);
  const cpus = os.cpus();
  const report = {
    sale,
    orders: ORDERS,
    items: ITEMS,
    partitions: PARTITIONS,
    payment: {
      latency: `${values['latency-min']}..${values['latency-max']}`,
      failureRate: Number(values.failure),
      /** share of the failures that hang until the payment timeout instead of declining at once */
      timeoutShare: Number(values['timeout-share']),
      timeout: values.timeout,
    },
    processedPerSecond: Math.round(rate),
    processedPerSecondIncludingStartup: Math.round(withStart),
    /** the processor's own CPU (all its threads) per order between the first and the last effect: steadier than
     *  orders/s on a shared machine */
    processorCpuUsPerOrder: Math.round(((cpuAtDone - cpuAtFirst) * 1000) / ORDERS),
    secondsToCommitAfterLastEffect: Number(((done - effectsDone) / 1000).toFixed(2)),
    evalshaCeilingPerSecond: Math.round(ceil),
    evalshaCeilingBeforeAfter: [Math.round(ceilBefore), Math.round(ceilAfter)],
    ratioOrdersToEvalsha: Number((rate / ceil).toFixed(3)),
    outcome: { confirmed, released, total: confirmed + released },
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
    `processor: ${report.processedPerSecond} orders/s (${report.processorCpuUsPerOrder} µs CPU per order); EVALSHA ceiling ${report.evalshaCeilingPerSecond}/s ` +
      `(ratio ${report.ratioOrdersToEvalsha}) ` +
      `on ${report.machine.cores} x ${report.machine.cpu}, load average ${report.machine.loadAverage1m}\n`,
  );
  // leave nothing behind: the sale's topics and every key of the run (SCAN, never KEYS)
  await deleteTopics(admin, sale);
  await admin.deleteGroups([processorGroupId(sale)]).catch(() => {});
  for (const prefix of [sale, `${sale}-ceiling-before`, `${sale}-ceiling-after`]) {
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
  await admin.disconnect();
  redis.disconnect();
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
