/**
 * Scale-out on the Redis Cluster (not a test), with the cluster's ceiling measured in the same run:
 *
 * - processors: orders/s settled by 1, 2 and 4 processor processes in one group (REDIS_MODE=cluster, 8 partitions,
 *   64 items, a backlog of `--orders`, payment 0-1 ms, failure 10 %), timed from the first effect until the audit
 *   shows every order settled;
 * - hot item: reserves/s on ONE item over K = 1, 4, 16 stock buckets (common/src/buckets.ts) from `--clients`
 *   concurrent cluster connections (the processor does not use buckets yet: this is the Redis side of the hot item);
 * - ceiling: `redis-benchmark --cluster -t incr` against the same cluster, before and after.
 *
 *   node bench/scale-out.ts [--orders 6000] [--processors 1,2,4] [--buckets 1,4,16] [--hot 3000] [--clients 16]
 *   REDIS_CLUSTER_ADDR / KAFKA_ADDR default to the harness's ports. Writes bench/results/scale-out-<time>.json and
 *   prints the JSON as the last line.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  auditSale,
  createRedis,
  deleteSaleKeys,
  deleteTopics,
  encodeOrder,
  ensureTopics,
  parseAddrList,
  reserveBucketed,
  seedBuckets,
  seedItem,
  topics,
} from '@flashsale/common';
import kafkajs from 'kafkajs';

process.removeAllListeners('warning');
const { Kafka, logLevel, Partitioners } = kafkajs;

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '6000' },
    processors: { type: 'string', default: '1,2,4' },
    buckets: { type: 'string', default: '1,4,16' },
    hot: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '16' },
  },
});
const ORDERS = Number(values.orders);
const HOT = Number(values.hot);
const CLIENTS = Number(values.clients);
const clusterAddr = process.env.REDIS_CLUSTER_ADDR ?? '127.0.0.1:17001,127.0.0.1:17002,127.0.0.1:17003';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const nodes = parseAddrList(clusterAddr, 'REDIS_CLUSTER_ADDR');
const redis = createRedis({ mode: 'cluster', nodes });
const kafka = new Kafka({ clientId: 'bench-scale-out', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
const PROCESSOR_MAIN = new URL('../processor/src/main.ts', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ceiling(): number {
  const n = nodes[0]!;
  const out = execFileSync(
    'redis-benchmark',
    ['-h', n.host, '-p', String(n.port), '--cluster', '-n', '40000', '-c', '30', '-q', '-t', 'incr'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const m = /INCR: ([\d.]+) requests per second/.exec(out.replaceAll('\r', '\n'));
  return m ? Math.round(Number(m[1])) : 0;
}

async function processors(count: number): Promise<{ processors: number; ordersPerSec: number; seconds: number }> {
  const sale = `bso-${randomUUID().slice(0, 8)}`;
  const items = Array.from({ length: 64 }, (_, i) => `it${i}`);
  for (const i of items) await seedItem(redis, sale, i, ORDERS);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, { sale, partitions: 8, replication: 1, dlqPartitions: 1 });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const now = new Date().toISOString();
  for (let s = 0; s < ORDERS; s += 2000) {
    const messages = [];
    for (let n = s; n < Math.min(ORDERS, s + 2000); n++) {
      const item = items[n % items.length]!;
      const o = {
        v: 1 as const,
        order_id: `${item}.b${n}`,
        sale,
        item_id: item,
        user_id: `u${n}`,
        quantity: 1,
        request_id: `r${n}`,
        correlation_id: `c${n}`,
        created_at: now,
      };
      messages.push({ key: item, value: encodeOrder(o), headers: { correlation_id: o.correlation_id } });
    }
    await producer.send({ topic: topics(sale).orders, acks: -1, messages });
  }
  await producer.disconnect();
  const procs: ChildProcess[] = [];
  const env = {
    PATH: process.env.PATH ?? '',
    SALE_NAME: sale,
    REDIS_MODE: 'cluster',
    REDIS_ADDR: clusterAddr,
    KAFKA_ADDR: kafkaAddr,
    ENSURE_TOPICS: 'false',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    PAYMENT_LATENCY_MIN: '0ms',
    PAYMENT_LATENCY_MAX: '1ms',
    PAYMENT_FAILURE_RATE: '0.1',
    HOLD_TTL: '600s',
  };
  for (let i = 0; i < count; i++) {
    procs.push(spawn(process.execPath, [PROCESSOR_MAIN], { env, stdio: 'ignore' }));
  }
  const settled = async () => {
    const a = await auditSale(redis, sale, items);
    return a.reduce((n, x) => n + x.confirmed + x.released, 0);
  };
  let t0 = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const s = await settled();
    if (s > 0 && t0 === 0) t0 = Date.now();
    if (s >= ORDERS || Date.now() > deadline) break;
    await sleep(100);
  }
  const seconds = (Date.now() - t0) / 1000;
  for (const p of procs) p.kill('SIGTERM');
  await sleep(1500);
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await deleteTopics(admin, sale).catch(() => undefined);
  await admin.disconnect();
  await deleteSaleKeys(redis, sale).catch(() => undefined);
  return { processors: count, ordersPerSec: Math.round(ORDERS / seconds), seconds: Number(seconds.toFixed(2)) };
}

async function hotItem(k: number): Promise<{ buckets: number; reservesPerSec: number; oversold: number }> {
  const sale = `bsh-${randomUUID().slice(0, 8)}`;
  const conns = Array.from({ length: CLIENTS }, () => createRedis({ mode: 'cluster', nodes }));
  await seedBuckets(redis, sale, 'hot', HOT, k);
  let next = 0;
  let reserved = 0;
  const t0 = Date.now();
  await Promise.all(
    conns.map(async (c) => {
      for (let n = next++; n < HOT; n = next++) {
        const o = {
          orderId: `hot.h${n}`,
          itemId: 'hot',
          userId: `u${n}`,
          quantity: 1,
          correlationId: 'c',
          requestId: 'r',
        };
        if ((await reserveBucketed(c, sale, o, 600_000, k)).status === 'RESERVED') reserved++;
      }
    }),
  );
  const seconds = (Date.now() - t0) / 1000;
  for (const c of conns) c.disconnect();
  await deleteSaleKeys(redis, sale).catch(() => undefined);
  return { buckets: k, reservesPerSec: Math.round(HOT / seconds), oversold: Math.max(0, reserved - HOT) };
}

const load0 = loadavg()[0]!;
const ceilingBefore = ceiling();
const procResults = [];
for (const n of values.processors.split(',').map(Number)) procResults.push(await processors(n));
const hotResults = [];
for (const k of values.buckets.split(',').map(Number)) hotResults.push(await hotItem(k));
const ceilingAfter = ceiling();
const result = {
  benchmark: 'scale-out',
  at: new Date().toISOString(),
  machine: { cores: cpus().length, loadBefore: load0, loadAfter: loadavg()[0] },
  command: `node bench/scale-out.ts --orders ${ORDERS} --processors ${values.processors} --buckets ${values.buckets} --hot ${HOT} --clients ${CLIENTS}`,
  ceiling: { tool: 'redis-benchmark --cluster -t incr -c 30', before: ceilingBefore, after: ceilingAfter },
  processors: procResults,
  hotItem: hotResults,
};
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL(`results/scale-out-${result.at.replaceAll(':', '-').replaceAll('.', '-')}.json`, import.meta.url),
  `${JSON.stringify(result, null, 2)}\n`,
);
redis.disconnect();
console.log(JSON.stringify(result));
