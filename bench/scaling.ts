/**
 * How cost grows (not a test): orders/s of the processor side for 1 and 2 processor processes, 1, 2 and 4 partitions,
 * and 1 vs 1,000 items (one hot key vs spread). Each case: processors started and their consumer group stable first,
 * then a backlog of orders produced; timed from the first effect in Redis until every order is settled (confirmed or
 * released, read with the inventory audit). Payment latency 0-1 ms, failure 10 %.
 *
 *   node bench/scaling.ts [--orders 10000] [--cases 1x1x16,1x2x16,1x4x16,2x4x16,1x4x1,1x4x1000]   (processors x partitions x items)
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports. The last line of stdout is the JSON.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  auditSale,
  createRedis,
  deleteSaleKeys,
  deleteTopics,
  ensureTopics,
  parseAddrList,
  processorGroupId,
  seedItem,
} from '@flashsale/common';
import kafkajs from 'kafkajs';
import { sleep } from '../e2e/support/wait.ts';
import { sendOrderBacklog } from './support/backlog.ts';

process.removeAllListeners('warning');
const { Kafka, logLevel, Partitioners } = kafkajs;

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '10000' },
    cases: { type: 'string', default: '1x1x16,1x2x16,1x4x16,2x4x16,1x4x1,1x4x1000' },
    /** backlog: orders produced before the processors start (as bench/processor.ts); stream: after the group is stable */
    mode: { type: 'string', default: 'backlog' },
  },
});
const ORDERS = Number(values.orders);
const MODE = values.mode === 'stream' ? 'stream' : 'backlog';
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
const kafka = new Kafka({ clientId: 'bench-scaling', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
const PROCESSOR_MAIN = new URL('../processor/src/main.ts', import.meta.url).pathname;

interface Case {
  processors: number;
  partitions: number;
  items: number;
}

async function produce(sale: string, items: string[]): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  await sendOrderBacklog(producer, sale, items, ORDERS, 's');
  await producer.disconnect();
}

async function runCase(c: Case) {
  const sale = `bench-sc-${randomUUID().slice(0, 8)}`;
  const items = Array.from({ length: c.items }, (_, i) => `i${i}`);
  const admin = kafka.admin();
  await admin.connect();
  const children: ChildProcess[] = [];
  try {
    await ensureTopics(admin, { sale, partitions: c.partitions, replication: 1 });
    for (const i of items) await seedItem(redis, sale, i, ORDERS);
    if (MODE === 'backlog') await produce(sale, items);
    for (let p = 0; p < c.processors; p++) {
      children.push(
        spawn(process.execPath, ['--no-warnings', PROCESSOR_MAIN], {
          env: {
            PATH: process.env.PATH ?? '',
            SALE_NAME: sale,
            REDIS_ADDR: redisAddr,
            KAFKA_ADDR: kafkaAddr,
            KAFKA_CLIENT_ID: `bench-scaling-${p}`,
            LOG_LEVEL: 'error',
            METRICS_PORT: '0',
            METRICS_HOST: '127.0.0.1',
            PAYMENT_LATENCY_MIN: '0ms',
            PAYMENT_LATENCY_MAX: '1ms',
            PAYMENT_FAILURE_RATE: '0.1',
            PAYMENT_CONCURRENCY: '1024',
            PARTITIONS_CONCURRENCY: String(c.partitions),
            ENSURE_TOPICS: 'false',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    if (MODE === 'stream') {
      // wait until the group is stable with every member, so the timing holds no start-up or rebalance
      const deadline = Date.now() + 60_000;
      for (;;) {
        const g = (await admin.describeGroups([processorGroupId(sale)])).groups[0];
        if (g?.state === 'Stable' && g.members.length === c.processors) break;
        if (Date.now() > deadline) throw new Error(`group not stable: ${g?.state} ${g?.members.length}`);
        await sleep(200);
      }
      await produce(sale, items);
    }
    let first = 0;
    let end = 0;
    const limit = Date.now() + 300_000;
    for (;;) {
      const a = await auditSale(redis, sale, items);
      const done = a.reduce((n, x) => n + x.confirmed + x.released, 0);
      const touched = done + a.reduce((n, x) => n + x.held, 0);
      if (!first && touched > 0) first = performance.now();
      if (done >= ORDERS) {
        end = performance.now();
        break;
      }
      if (Date.now() > limit) throw new Error(`backlog not drained: ${done}/${ORDERS}`);
      await sleep(c.items > 100 ? 250 : 50);
    }
    return {
      ...c,
      orders: ORDERS,
      seconds: Number(((end - first) / 1000).toFixed(2)),
      ordersPerSecond: Math.round(ORDERS / ((end - first) / 1000)),
    };
  } finally {
    for (const ch of children) ch.kill('SIGTERM');
    await Promise.all(children.map((ch) => (ch.exitCode === null ? new Promise((r) => ch.once('exit', r)) : null)));
    await deleteTopics(admin, sale).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await deleteSaleKeys(redis, sale).catch(() => undefined);
  }
}

const cases: Case[] = String(values.cases)
  .split(',')
  .map((s) => {
    const [processors, partitions, items] = s.split('x').map(Number);
    return { processors: processors ?? 1, partitions: partitions ?? 1, items: items ?? 16 };
  });
const results = [];
for (const c of cases) {
  process.stderr.write(`scaling: ${c.processors} processor(s), ${c.partitions} partition(s), ${c.items} item(s)...\n`);
  const r = await runCase(c);
  process.stderr.write(`  ${r.ordersPerSecond} orders/s (${r.seconds} s)\n`);
  results.push(r);
}
redis.disconnect();
process.stdout.write(`${JSON.stringify({ orders: ORDERS, results })}\n`);
process.exit(0);
