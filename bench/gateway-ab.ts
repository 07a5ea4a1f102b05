/**
 * Two gateway checkouts side by side (not a test): both run at once on one sale of the harness's Redis and Kafka and
 * are driven in turn, so the machine's drifting speed (other tenants, CPU steal) falls on both alike. Each round gives
 * each gateway one run at a fixed rate (its CPU per accepted order: what an order costs it) and one saturated run
 * (accepted/s), the order of the gateways swapped every round. Used for the before/after figures of a change, where
 * two `bench/gateway.ts` runs minutes apart differ more than the change does.
 *
 *   node bench/gateway-ab.ts <main.ts of checkout A> <main.ts of checkout B> [--rounds 4] [--rate 2500] [--seconds 6]
 *   (make services-up first; a checkout elsewhere needs links to this one's node_modules)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createRedis, parseAddrList, seedItem, topics } from '@flashsale/common';
import autocannon from 'autocannon';
import { Kafka, logLevel } from 'kafkajs';
import { cpuMs } from './scale-out.ts';
import { orderRequests } from './support/order-requests.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '4' },
    rate: { type: 'string', default: '2500' },
    seconds: { type: 'string', default: '6' },
  },
});
if (positionals.length !== 2)
  throw new Error('usage: node bench/gateway-ab.ts <gateway A main.ts> <gateway B main.ts>');
const rounds = Number(values.rounds);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sale = `ab-${randomUUID().slice(0, 8)}`;
const kafkaAddr = process.env.KAFKA_ADDR ?? '127.0.0.1:19092';
const redisAddr = process.env.REDIS_ADDR ?? '127.0.0.1:16379';

interface Server {
  main: string;
  child: ChildProcess;
  url: string;
  runs: string[];
}

async function start(main: string, port: number): Promise<Server> {
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      SALE_NAME: sale,
      REDIS_ADDR: redisAddr,
      KAFKA_ADDR: kafkaAddr,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_IP_MAX_REQUESTS: '10000000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  while (
    !(await fetch(`${url}/livez`).then(
      (r) => r.status < 500,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > until) throw new Error(`${main} did not start on ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { main, child, url, runs: [] };
}

/** Orders over 20,000 users (the per-user bucket never empties): accepted orders/s and CPU µs per accepted order. */
async function drive(s: Server, overallRate: number | undefined, secs: number) {
  const c0 = cpuMs(s.child.pid);
  const o0 = others.map((pid) => cpuMs(pid));
  const r = await autocannon({
    url: s.url,
    connections: 50,
    duration: secs,
    ...(overallRate ? { overallRate } : {}),
    requests: orderRequests('widget', (n) => `u-${n % 20_000}`),
  });
  const accepted = r['2xx'];
  const per = (ms: number) => (ms * 1000) / Math.max(1, accepted);
  return {
    perSecond: accepted / secs,
    cpuUs: per(cpuMs(s.child.pid) - c0),
    othersUs: others.map((pid, i) => per(cpuMs(pid) - (o0[i] ?? 0)).toFixed(0)).join(' / '),
  };
}

/** Redis's and Kafka's processes (BENCH_OTHER_PIDS="pid pid"): their CPU per accepted order too. */
const others = (process.env.BENCH_OTHER_PIDS ?? '').split(/\s+/).filter(Boolean).map(Number);

const redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr, 'REDIS_ADDR') });
const admin = new Kafka({ clientId: 'bench-ab', brokers: kafkaAddr.split(','), logLevel: logLevel.NOTHING }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: topics(sale).orders, numPartitions: 6 }], waitForLeaders: true });
await seedItem(redis, sale, 'widget', 100_000_000);
const servers = [await start(positionals[0] as string, 23101), await start(positionals[1] as string, 23102)];
try {
  for (const s of servers) await drive(s, undefined, 2); // JIT warm-up
  for (let i = 0; i < rounds; i++) {
    for (const s of i % 2 ? [...servers].reverse() : servers) {
      const fixed = await drive(s, rate, seconds);
      const sat = await drive(s, undefined, seconds);
      s.runs.push(
        `at ${rate}/s: ${fixed.cpuUs.toFixed(0)} µs CPU per order (others ${fixed.othersUs}); saturated: ${sat.perSecond.toFixed(0)}/s at ${sat.cpuUs.toFixed(0)} µs (others ${sat.othersUs})`,
      );
    }
  }
  for (const s of servers) console.log(`${s.main}\n  ${s.runs.join('\n  ')}`);
} finally {
  for (const s of servers) s.child.kill('SIGTERM');
  await admin.deleteTopics({ topics: [topics(sale).orders] }).catch(() => {});
  await admin.disconnect();
  await redis.quit();
}
