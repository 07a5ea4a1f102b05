/**
 * The read-only gateway (GATEWAY_MODE=read-only), what the operator runs after a sale until endsAt + statusRetention:
 * real Redis, no Kafka at all (its address answers nothing). It starts and is ready without Kafka, answers an order's
 * status and its event stream, refuses every new order with 410 SALE_ENDED, whatever the clock says.
 */
import {
  confirm,
  createRedis,
  newOrderId,
  parseAddrList,
  type RedisClient,
  reserve,
  seedItem,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../e2e/support/wait.ts';
import { type Gateway, startGateway } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { uniqueSale } from './helpers.ts';

const sale = uniqueSale('ro');
let gw: Gateway & { url: string };
let redis: RedisClient;
let startMs = 0;

function redisAddr(): string {
  const addr = inject('services').redis?.addr;
  if (!addr) throw new Error('the harness did not provide Redis (services.redis)');
  return addr;
}

/** The statuses an event stream sends until it ends. */
async function streamed(res: Response, onEvent: (status: string) => void = () => {}): Promise<string[]> {
  const out: string[] = [];
  const text = res.body!.pipeThrough(new TextDecoderStream());
  let buf = '';
  for await (const chunk of text) {
    buf += chunk;
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (block.includes('event: status') && data) {
        const s = JSON.parse(data.slice(6)).status as string;
        out.push(s);
        onEvent(s);
      }
    }
  }
  return out;
}

const order = (user: string) => ({
  orderId: newOrderId(sale, 'cap', user, `k-${user}`),
  itemId: 'cap',
  userId: user,
  quantity: 1,
  correlationId: 'c',
  requestId: `k-${user}`,
});

beforeAll(async () => {
  redis = createRedis({ mode: 'single', nodes: parseAddrList(redisAddr()) });
  await seedItem(redis, sale, 'cap', 10, 0);
  // nothing listens on the Kafka address: a Kafka gone after the sale must not matter
  const noKafka = `127.0.0.1:${await freePort()}`;
  const config = loadConfig({
    SALE_NAME: sale,
    GATEWAY_MODE: 'read-only',
    REDIS_ADDR: redisAddr(),
    KAFKA_ADDR: noKafka,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    // the window is still open by the clock: read-only refuses orders anyway
    SALE_STARTS_AT: new Date(Date.now() - 3_600_000).toISOString(),
    SALE_ENDS_AT: new Date(Date.now() + 3_600_000).toISOString(),
    SSE_HEARTBEAT: '200ms',
  });
  const t0 = Date.now();
  gw = await startGateway(config);
  startMs = Date.now() - t0;
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

describe('read-only gateway (after the sale, no Kafka)', () => {
  it('starts without Kafka and is ready on Redis alone', async () => {
    // a producer start against a dead broker retries for many seconds: read-only never dials it
    expect(startMs).toBeLessThan(5000);
    const ready = await fetch(`${gw.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', redis: true, kafka: false, mode: 'read-only' });
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'healthy', redis: true, mode: 'read-only' });
  });

  it('a buyer who paid at the last minute reads the final status, and the event stream ends with it', async () => {
    const paid = order('u-paid');
    expect((await reserve(redis, sale, paid, 60_000)).status).toBe('RESERVED');
    await confirm(redis, sale, 'cap', paid.orderId);

    const res = await fetch(`${gw.url}/v1/orders/${paid.orderId}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ order_id: paid.orderId, status: 'CONFIRMED', user_id: 'u-paid' });
    const events = await fetch(`${gw.url}/v1/orders/${paid.orderId}/events`);
    expect(events.status).toBe(200);
    expect(await streamed(events)).toEqual(['CONFIRMED']);

    // a status that changes while the stream is open still reaches the buyer (Redis pub/sub, no Kafka)
    const late = order('u-late');
    expect((await reserve(redis, sale, late, 60_000)).status).toBe('RESERVED');
    const live = await fetch(`${gw.url}/v1/orders/${late.orderId}/events`);
    const seen = await streamed(live, (s) => {
      if (s === 'RESERVED') void confirm(redis, sale, 'cap', late.orderId);
    });
    expect(seen).toEqual(['RESERVED', 'CONFIRMED']);

    expect((await fetch(`${gw.url}/v1/orders/cap.${'0'.repeat(32)}`)).status).toBe(404);
  });

  it('refuses every order with 410 SALE_ENDED (validation still first), and the sale view answers', async () => {
    const post = (body: unknown, key = 'k-after') =>
      fetch(`${gw.url}/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
      });
    const ended = await post({ user_id: 'u-after', item_id: 'cap', quantity: 1 });
    expect(ended.status).toBe(410);
    expect(await ended.json()).toMatchObject({ code: 'SALE_ENDED' });
    expect((await post({ user_id: 'u-after', item_id: 'cap', quantity: 0 })).status).toBe(400);
    // nothing was admitted: no record for the refused order
    const refused = newOrderId(sale, 'cap', 'u-after', 'k-after');
    expect((await fetch(`${gw.url}/v1/orders/${refused}`)).status).toBe(404);
    expect((await fetch(`${gw.url}/v1/sale`)).status).toBe(200);
  });
});
