/**
 * Gateway benchmark (not a test): accepted orders per second and p50/p99 latency of the full order path
 * (validation, rate limit, idempotency, order record, Kafka acknowledged with acks=all) on the real Redis and
 * Kafka, beside a no-op fastify route measured in the same run with the same load, so the overhead is a ratio.
 *
 *   node bench/gateway.ts [--duration 10] [--connections 50]
 *   REDIS_ADDR / KAFKA_ADDR default to the harness's ports (make services-up).
 *
 * Both servers run as their own processes; autocannon drives them from this one.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import {
  createRedis,
  idempotencyKey,
  itemKeys,
  newOrderId,
  parseAddrList,
  rateLimitKey,
  saleKeys,
  seedItem,
  topics,
} from '@flashsale/common';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '2' },
  },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const warmup = Number(values.warmup);
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const sale = `bench-${randomUUID().slice(0, 8)}`;
const ITEM = 'widget';

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
  const child = spawn(process.execPath, [new URL(script, import.meta.url).pathname], {
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

/** (user, key) of every order request, so the sale's keys can be deleted without a SCAN of the whole Redis. */
const sent: [string, string][] = [];

async function load(url: string, seconds: number, label: string) {
  let n = 0;
  const run = randomUUID().slice(0, 8);
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/v1/orders',
        setupRequest: (req) => {
          n += 1;
          sent.push([`u-${n % 20_000}`, `${run}-${n}`]);
          return {
            ...req,
            headers: { 'content-type': 'application/json', 'idempotency-key': `${run}-${n}` },
            // 20,000 users: the per-user bucket (60) never empties
            body: JSON.stringify({ user_id: `u-${n % 20_000}`, item_id: ITEM, quantity: 1 }),
          };
        },
      },
    ],
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

async function deleteSaleKeys(redis: ReturnType<typeof createRedis>): Promise<void> {
  const k = itemKeys(sale, ITEM);
  const users = new Set(sent.map(([u]) => u));
  const keys = [k.stock, k.meta, k.holds, saleKeys(sale).items, saleKeys(sale).config];
  keys.push(rateLimitKey(sale, 'order-ip', '127.0.0.1'));
  for (const u of users) keys.push(rateLimitKey(sale, 'order-user', u), k.user(u));
  for (const [u, key] of sent) keys.push(idempotencyKey(sale, u, key), k.order(newOrderId(sale, ITEM, u, key)));
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((x) => redis.unlink(x)));
}

async function main() {
  const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
  const kafka = new Kafka({ clientId: 'bench', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: topics(sale).orders, numPartitions: 6 }], waitForLeaders: true });
  await seedItem(redis, sale, ITEM, 100_000_000);

  const noop = await startServer('./gateway-noop.ts', {});
  const gw = await startServer('../gateway/src/main.ts', {
    SALE_NAME: sale,
    REDIS_ADDR: redisAddr,
    KAFKA_ADDR: kafkaAddr,
    HOST: '127.0.0.1',
    // per-order INFO lines are not part of the measured path
    LOG_LEVEL: 'warn',
    RATE_LIMIT_IP_MAX_REQUESTS: '10000000',
  });
  try {
    const noopUrl = noop.url;
    const gwUrl = gw.url;
    if (warmup > 0) {
      await load(noopUrl, warmup, 'warmup');
      await load(gwUrl, warmup, 'warmup');
    }
    const before = (await admin.fetchTopicOffsets(topics(sale).orders)).reduce((s, p) => s + Number(p.high), 0);
    const base = await load(noopUrl, duration, 'no-op fastify route');
    const full = await load(gwUrl, duration, 'gateway full path');
    const after = (await admin.fetchTopicOffsets(topics(sale).orders)).reduce((s, p) => s + Number(p.high), 0);

    const fmt = (r: typeof base) =>
      `${r.label.padEnd(22)} ${r.acceptedPerSecond.toFixed(0).padStart(8)} /s  p50 ${String(r.p50).padStart(4)} ms  p99 ${String(r.p99).padStart(4)} ms  (${r.requests} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`;
    console.log(`\ngateway benchmark: ${connections} connections, ${duration} s each, sale ${sale}`);
    console.log(fmt(base));
    console.log(fmt(full));
    console.log(
      `ratio full/no-op: throughput ${(full.acceptedPerSecond / base.acceptedPerSecond).toFixed(3)}, ` +
        `p50 ${(full.p50 / Math.max(base.p50, 0.001)).toFixed(1)}x, p99 ${(full.p99 / Math.max(base.p99, 0.001)).toFixed(1)}x`,
    );
    console.log(`Kafka messages produced during the measured run: ${after - before} (202 answers: ${full.ok2xx})`);
    console.log(JSON.stringify({ sale, connections, duration, base, full, produced: after - before }));
  } finally {
    noop.child.kill('SIGTERM');
    gw.child.kill('SIGTERM');
    await Promise.all([noop.child, gw.child].map((c) => (c.exitCode === null ? once(c, 'exit') : undefined)));
    await deleteSaleKeys(redis);
    await admin.deleteTopics({ topics: [topics(sale).orders] }).catch(() => {});
    await admin.disconnect();
    await redis.quit();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
