/** Test helpers over the real services handed over by the harness (never mocks). */
import { randomUUID } from 'node:crypto';
import {
  type AdmitReply,
  admitOrders,
  createRedis,
  newOrderId,
  ORDER_RECORD_TTL_SECONDS,
  parseAddrList,
  type RedisClient,
} from '@flashsale/common';
import { expect, inject } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import type { Clock } from '../src/clock.ts';

export function services() {
  return inject('services');
}

export function redisAddr(): string {
  const r = services().redis;
  if (!r?.addr) throw new Error('the harness provided no Redis endpoint (services.redis is missing)');
  return r.addr;
}

export function kafkaBrokers(): string[] {
  const k = services().kafka;
  if (!k?.brokers?.length) throw new Error('the harness provided no Kafka endpoint (services.kafka is missing)');
  return k.brokers;
}

export function newRedis(): RedisClient {
  return createRedis({ mode: 'single', nodes: parseAddrList(redisAddr(), 'REDIS_ADDR') });
}

export function redisClusterAddrs(): string {
  const rc = services().redisCluster;
  if (!rc?.addrs) throw new Error('the harness provided no Redis Cluster (services.redisCluster is missing)');
  return rc.addrs;
}

/**
 * The Redis deployments the processing suites run on (a test matrix: the same tests, one connection factory each):
 * the single Redis and the three-master Redis Cluster. `env` selects it in the processor's configuration.
 */
export interface RedisBackend {
  name: 'single' | 'cluster';
  client(): RedisClient;
  env(): Record<string, string>;
}

const ALL_REDIS_BACKENDS: RedisBackend[] = [
  { name: 'single', client: newRedis, env: () => ({ REDIS_MODE: 'single', REDIS_ADDR: redisAddr() }) },
  {
    name: 'cluster',
    client: () => createRedis({ mode: 'cluster', nodes: parseAddrList(redisClusterAddrs(), 'REDIS_ADDR') }),
    env: () => ({ REDIS_MODE: 'cluster', REDIS_ADDR: redisClusterAddrs() }),
  },
];

/**
 * The testcontainers provider offers no Redis Cluster: with FLASHSALE_E2E_ENV=testcontainers (the order-path pass of
 * tools/run-tests.sh) the matrix is the single Redis; anywhere else a missing cluster fails the cluster cases.
 */
export const REDIS_BACKENDS: RedisBackend[] =
  process.env.FLASHSALE_E2E_ENV === 'testcontainers'
    ? ALL_REDIS_BACKENDS.filter((b) => b.name === 'single')
    : ALL_REDIS_BACKENDS;

/** A clock for the holds that a test moves forward (StartOptions.clock): the wall clock plus what was advanced. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** The reserve scripts' input for order `n` of `item` by `user` (order id `<item>.o<n>`). */
export const reserveInput = (item: string, n: number | string, user: string, quantity = 1) => ({
  orderId: `${item}.o${n}`,
  itemId: item,
  userId: user,
  quantity,
  correlationId: `c${n}`,
  requestId: `r${n}`,
});

/** An order admitted as the gateway admits it (lua/order_admit.lua): `user`'s key `key-<user>` at `at` (ms), no bucket. */
export async function admitAsGateway(
  r: RedisClient,
  o: { sale: string; item: string; user: string; at: number },
): Promise<{ orderId: string; reply: AdmitReply | undefined }> {
  const orderId = newOrderId(o.sale, o.item, o.user, `key-${o.user}`);
  const [reply] = await admitOrders(r, {
    sale: o.sale,
    itemId: o.item,
    policy: { capacity: 0, refillPerSecond: 0, pendingTtlMs: 30_000, recordTtlSeconds: ORDER_RECORD_TTL_SECONDS },
    orders: [
      {
        orderId,
        userId: o.user,
        quantity: 1,
        correlationId: `corr-${o.user}`,
        requestId: `key-${o.user}`,
        now: o.at,
        perUserLimit: 0,
        brokerOpen: false,
      },
    ],
  });
  return { orderId, reply };
}

export function uniqueSale(prefix = 't'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

// ---- Kafka and order helpers -------------------------------------------------------------------------------

import {
  auditSale,
  dlqHeadersSchema,
  encodeOrder,
  FINAL_STATUSES,
  headersToStrings,
  type ItemAudit,
  isRefundDue,
  itemKeys,
  type OrderMessage,
  topics,
} from '@flashsale/common';
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export function kafkaClient(clientId = 'test') {
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/** Environment for a processor under test: fast housekeeping, quiet logs, an ephemeral metrics port. */
export function processorEnv(sale: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SALE_NAME: sale,
    REDIS_ADDR: redisAddr(),
    KAFKA_ADDR: kafkaBrokers().join(','),
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    PAYMENT_LATENCY_MIN: '1ms',
    PAYMENT_LATENCY_MAX: '10ms',
    PAYMENT_TIMEOUT: '150ms',
    SWEEP_INTERVAL: '500ms',
    AUDIT_INTERVAL: '500ms',
    OFFSETS_INTERVAL: '500ms',
    TOPIC_PARTITIONS: '4',
    KAFKA_SESSION_TIMEOUT: '8s',
    ...extra,
  };
}

export function makeOrders(sale: string, items: string[], count: number, prefix = 'o'): OrderMessage[] {
  return Array.from({ length: count }, (_, n) => {
    const item = items[n % items.length]!;
    return {
      v: 1,
      order_id: `${item}.${prefix}${n}`,
      sale,
      item_id: item,
      user_id: `user-${prefix}-${n}`,
      quantity: 1,
      request_id: `req-${prefix}-${n}`,
      correlation_id: `corr-${prefix}-${n}`,
      created_at: new Date().toISOString(),
    };
  });
}

export async function produce(
  sale: string,
  orders: OrderMessage[],
  raw: { key: string; value: string }[] = [],
): Promise<void> {
  const producer = kafkaClient('test-producer').producer();
  await producer.connect();
  try {
    const messages = [
      ...orders.map((o) => ({
        key: o.item_id,
        value: encodeOrder(o),
        headers: { correlation_id: o.correlation_id, request_id: o.request_id },
      })),
      ...raw.map((m) => ({ key: m.key, value: m.value, headers: { correlation_id: 'poison', request_id: 'poison' } })),
    ];
    for (let i = 0; i < messages.length; i += 500) {
      await producer.send({ topic: topics(sale).orders, acks: -1, messages: messages.slice(i, i + 500) });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface DlqEntry {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

/** Every message in the sale's DLQ topic, read from the start up to the end offsets at call time. */
export async function readDlq(sale: string): Promise<DlqEntry[]> {
  const kafka = kafkaClient('test-dlq-reader');
  const admin = kafka.admin();
  await admin.connect();
  const topic = topics(sale).dlq;
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const out: DlqEntry[] = [];
  if (want.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `test-reader-${uniqueSale('g')}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const high = want.get(partition);
        if (high === undefined || Number(message.offset) >= high) return;
        out.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? '',
          headers: headersToStrings(message.headers),
          partition,
          offset: message.offset,
        });
        if (Number(message.offset) === high - 1) want.delete(partition);
        if (want.size === 0) resolve();
      },
    });
  });
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error('DLQ read timed out')), 30_000))]);
  await consumer.disconnect();
  return out;
}

/** Waits until every PAYMENT_FAILED order of `final` has a dead letter, and checks that no other order has one. */
export async function expectFailedPaymentsDeadLettered(sale: string, final: Map<string, string>): Promise<void> {
  const failed = [...final.entries()].filter(([, s]) => s === 'PAYMENT_FAILED').map(([id]) => id);
  const dlq = await eventually('dead letters', async () => {
    const d = await readDlq(sale);
    return new Set(d.map(dlqOrderId)).size >= failed.length ? d : undefined;
  });
  expect(new Set(dlq.map(dlqOrderId))).toEqual(new Set(failed));
}

export function dlqOrderId(e: DlqEntry): string | undefined {
  try {
    return (JSON.parse(e.value) as { order_id?: string }).order_id;
  } catch {
    return undefined;
  }
}

export function checkDlqHeaders(e: DlqEntry, sale: string): void {
  const h = dlqHeadersSchema.parse(e.headers);
  if (h.dlq_original_topic !== topics(sale).orders) throw new Error(`bad original topic ${h.dlq_original_topic}`);
}

/** Status per order (MISSING: no record; `EXPIRED (refund due)`: charged after the hold expired, not yet REFUNDED). */
export async function statuses(r: RedisClient, sale: string, orders: OrderMessage[]): Promise<Map<string, string>> {
  const values = await Promise.all(
    orders.map((o) => r.hmget(itemKeys(sale, o.item_id).order(o.order_id), 'status', 'reason')),
  );
  return new Map(
    orders.map((o, i) => {
      const [status, reason] = values[i] ?? [];
      return [
        o.order_id,
        status && isRefundDue(status, reason ?? undefined) ? 'EXPIRED (refund due)' : (status ?? 'MISSING'),
      ];
    }),
  );
}

/** Final and settled: a final status, a refund that is due not counted (it ends REFUNDED). */
export const FINAL: ReadonlySet<string> = FINAL_STATUSES;

export async function waitAllFinal(r: RedisClient, sale: string, orders: OrderMessage[], timeoutMs = 45_000) {
  return eventually(
    'every order to reach a final status',
    async () => {
      const s = await statuses(r, sale, orders);
      const open = [...s.values()].filter((v) => !FINAL.has(v)).length;
      return open === 0 ? s : undefined;
    },
    timeoutMs,
    250,
  );
}

/** The conservation law of every item: nothing oversold, nothing lost. */
export async function checkConservation(r: RedisClient, sale: string): Promise<ItemAudit[]> {
  const audits = await auditSale(r, sale);
  for (const a of audits) {
    if (a.drift !== 0) throw new Error(`item ${a.itemId} drifts by ${a.drift}`);
    if (a.remaining < 0) throw new Error(`item ${a.itemId} has negative stock`);
    if (a.confirmed + a.held > a.initial) throw new Error(`item ${a.itemId} oversold`);
  }
  return audits;
}

export async function metricValue(
  registry: import('prom-client').Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`metric ${name} is not registered`);
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    const l = v.labels as Record<string, string | number>;
    if ((v as { metricName?: string }).metricName && (v as { metricName?: string }).metricName !== name) continue;
    if (Object.entries(labels).every(([k, x]) => String(l[k]) === x)) sum += v.value;
  }
  return sum;
}

// ---- network faults ----------------------------------------------------------------------------------------

import net from 'node:net';

/**
 * A loopback TCP proxy to a real service whose link the test can cut: cutting resets every connection and stops
 * listening (new connections are refused, as when the service is down); restoring listens on the same port.
 */
export async function tcpProxy(target: string) {
  const [host, portText] = [target.slice(0, target.lastIndexOf(':')), target.slice(target.lastIndexOf(':') + 1)];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const u = net.connect(Number(portText), host);
    sockets.add(c);
    sockets.add(u);
    const end = () => {
      c.destroy();
      u.destroy();
      sockets.delete(c);
      sockets.delete(u);
    };
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
    c.pipe(u);
    u.pipe(c);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  let up = true;
  const cut = async () => {
    if (!up) return;
    up = false;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    addr: `127.0.0.1:${port}`,
    cut,
    async restore() {
      if (up) return;
      await listen(port);
      up = true;
    },
    close: cut,
  };
}

// ---- a processor as a process of its own (for SIGKILL) --------------------------------------------------------

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROCESSOR_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface SpawnedProcessor {
  child: ChildProcess;
  /** exit code or signal, and the ms from the last signal sent with child.kill to the exit */
  exited: Promise<{ code: number | null; signal: string | null; ms: number }>;
}

/** Start `processor/src/main.ts` with `env`; its stderr tail is printed if it exits other than by SIGKILL or 0. */
/** A processor process (main.ts, or `main`: another entry that starts one, e.g. with a test payment provider). */
export function spawnProcessor(
  env: Record<string, string>,
  children: ChildProcess[],
  main = PROCESSOR_MAIN,
): SpawnedProcessor {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  let signalledAt = 0;
  const origKill = child.kill.bind(child);
  child.kill = (sig?: NodeJS.Signals | number) => {
    signalledAt = Date.now();
    return origKill(sig);
  };
  const exited = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL' && err) process.stderr.write(`processor stderr: ${err}\n`);
      resolve({ code, signal, ms: Date.now() - signalledAt });
    }),
  );
  return { child, exited };
}
