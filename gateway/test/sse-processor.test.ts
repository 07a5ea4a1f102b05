/**
 * End to end over processes: the gateway (in this process, real socket) and the real processor
 * (`node processor/src/main.ts`, a child process) on the harness's Redis and Kafka. A client that follows
 * GET /v1/orders/:id/events sees its order reach a final status set by the processor; the stream then ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { ensureTopics, isFinalStatus, type OrderStatus, type RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../src/app.ts';
import { kafkaFor, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('ssep');
let gw: Gateway & { url: string };
let redis: RedisClient;
let processor: ChildProcess | undefined;

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  // both topics (orders and DLQ), as the operator or `flashsale up` creates them
  const admin = kafkaFor(s.brokers).admin();
  await admin.connect();
  await ensureTopics(admin, { sale, partitions: 2, replication: 1 });
  await admin.disconnect();
  await seed(redis, sale, { hat: 3 });
  gw = await startGateway(testConfig(sale));
  processor = spawn(process.execPath, [new URL('../../processor/src/main.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      SALE_NAME: sale,
      REDIS_ADDR: s.redisAddr,
      KAFKA_ADDR: s.brokers.join(','),
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'error',
      ENSURE_TOPICS: 'false',
      TOPIC_PARTITIONS: '2',
      PAYMENT_FAILURE_RATE: '0',
      KAFKA_SESSION_TIMEOUT: '10s',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
});

afterAll(async () => {
  if (processor && processor.exitCode === null) {
    const exited = once(processor, 'exit');
    processor.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (processor.exitCode === null) processor.kill('SIGKILL');
  }
  await gw?.close();
  await redis?.quit();
});

async function follow(orderId: string): Promise<OrderStatus[]> {
  const res = await fetch(`${gw.url}/v1/orders/${orderId}/events`);
  expect(res.status).toBe(200);
  const statuses: OrderStatus[] = [];
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body!) {
    buf += dec.decode(chunk as Uint8Array, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (block.includes('event: status') && data) statuses.push(JSON.parse(data.slice(6)).status);
    }
  }
  return statuses;
}

describe('SSE with the real processor', () => {
  it('streams each order to the final status the processor gave it (CONFIRMED, then SOLD_OUT)', async () => {
    const place = async (i: number) => {
      const r = await fetch(`${gw.url}/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `k-${i}` },
        body: JSON.stringify({ user_id: `u-${i}`, item_id: 'hat', quantity: 1 }),
      });
      expect(r.status).toBe(202);
      return ((await r.json()) as { order_id: string }).order_id;
    };
    // 3 hats, 4 buyers: each follower sees a final status, three CONFIRMED and one SOLD_OUT
    const ids = await Promise.all([0, 1, 2, 3].map(place));
    const streams = await Promise.all(ids.map(follow));
    for (const s of streams) {
      expect(s.length).toBeGreaterThan(0);
      expect(isFinalStatus(s.at(-1)!)).toBe(true);
    }
    const finals = streams.map((s) => s.at(-1)).sort();
    expect(finals).toEqual(['CONFIRMED', 'CONFIRMED', 'CONFIRMED', 'SOLD_OUT']);
  }, 45_000);
});
