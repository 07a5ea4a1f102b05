/** Test support for the gateway's integration tests: real Redis and Kafka from the harness. */
import { randomUUID } from 'node:crypto';
import { createRedis, parseAddrList, type RedisClient, seedItem, topics } from '@flashsale/common';
import { Kafka, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { type GatewayConfig, loadConfig } from '../src/config.ts';

export function services(): { redisAddr: string; brokers: string[] } {
  const s = inject('services');
  if (!s.redis?.addr) throw new Error('the harness did not provide Redis (services.redis)');
  if (!s.kafka?.brokers?.length) throw new Error('the harness did not provide Kafka (services.kafka)');
  return { redisAddr: s.redis.addr, brokers: s.kafka.brokers };
}

export const uniqueSale = (prefix = 't') => `${prefix}-${randomUUID().slice(0, 8)}`;

export function testConfig(sale: string, env: Record<string, string> = {}): GatewayConfig {
  const s = services();
  return loadConfig({
    SALE_NAME: sale,
    REDIS_ADDR: s.redisAddr,
    KAFKA_ADDR: s.brokers.join(','),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    STOCK_POLL_INTERVAL: '200ms',
    KAFKA_SEND_TIMEOUT: '5s',
    ...env,
  });
}

export function redisFor(addr: string): RedisClient {
  return createRedis({ mode: 'single', nodes: parseAddrList(addr) });
}

/**
 * The Redis deployments the order path is tested on (a test matrix: the same tests, two connection factories): the
 * single Redis and the three-master Redis Cluster of the harness. `env` is what the gateway needs to select it.
 */
export interface RedisBackend {
  name: 'single' | 'cluster';
  env(): Record<string, string>;
  client(): RedisClient;
}

function clusterAddrs(): string {
  const addrs = inject('services').redisCluster?.addrs;
  if (!addrs) throw new Error('the harness did not provide a Redis Cluster (services.redisCluster)');
  return addrs;
}

const ALL_REDIS_BACKENDS: RedisBackend[] = [
  { name: 'single', env: () => ({}), client: () => redisFor(services().redisAddr) },
  {
    name: 'cluster',
    env: () => ({ REDIS_MODE: 'cluster', REDIS_ADDR: clusterAddrs() }),
    client: () => createRedis({ mode: 'cluster', nodes: parseAddrList(clusterAddrs()) }),
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

export function kafkaFor(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'gateway-test', brokers, logLevel: logLevel.NOTHING });
}

export async function createOrdersTopic(
  brokers: string[],
  sale: string,
  partitions = 3,
  replicationFactor = 1,
): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const topic = topics(sale).orders;
    // waitForLeaders fails on a 3-broker cluster (design-notes): create, then poll until every partition has a leader
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor }],
      waitForLeaders: false,
    });
    await eventually(
      `leaders of ${topic}`,
      async () => {
        const m = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
        const parts = m?.topics[0]?.partitions ?? [];
        return parts.length === partitions && parts.every((p) => p.leader >= 0);
      },
      20_000,
      25,
    );
  } finally {
    await admin.disconnect();
  }
}

/** Sum of the end offsets of the sale's orders topic: how many messages were ever produced. */
export async function producedCount(brokers: string[], sale: string): Promise<number> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topics(sale).orders);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Every message of the orders topic (value parsed, headers as strings). */
export async function readAllOrders(
  brokers: string[],
  sale: string,
  expected: number,
  timeoutMs = 20_000,
): Promise<{ value: Record<string, unknown>; headers: Record<string, string>; key: string }[]> {
  const kafka = kafkaFor(brokers);
  const consumer = kafka.consumer({ groupId: `gw-test-${randomUUID()}` });
  const out: { value: Record<string, unknown>; headers: Record<string, string>; key: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: topics(sale).orders, fromBeginning: true });
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => {
    done = r;
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
      out.push({ value: JSON.parse(String(message.value)), headers, key: String(message.key) });
      if (out.length >= expected) done();
    },
  });
  const t = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(t);
  await consumer.disconnect();
  return out;
}

export async function seed(
  redis: RedisClient,
  sale: string,
  items: Record<string, number>,
  perUserLimit = 0,
): Promise<void> {
  for (const [item, total] of Object.entries(items)) await seedItem(redis, sale, item, total, perUserLimit);
}

export const jsonHeaders = (key?: string, extra: Record<string, string> = {}) => ({
  'content-type': 'application/json',
  ...(key ? { 'idempotency-key': key } : {}),
  ...extra,
});
