/** Server-Sent Events over a real socket: the status of an order the processor's scripts handle, until final. */
import { confirm, markRefunded, PAID_AFTER_EXPIRY, type RedisClient, reserve } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { type Gateway, startGateway } from '../src/app.ts';
import { createOrdersTopic, redisFor, seed, services, testConfig, uniqueSale } from './helpers.ts';

const sale = uniqueSale('sse');
let gw: Gateway & { url: string };
let redis: RedisClient;

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  await createOrdersTopic(s.brokers, sale);
  await seed(redis, sale, { cap: 10 });
  gw = await startGateway(testConfig(sale, { SSE_HEARTBEAT: '200ms' }));
});

afterAll(async () => {
  await gw?.close();
  await redis?.quit();
});

async function readEvents(res: Response, onEvent: (status: string) => void): Promise<string[]> {
  const statuses: string[] = [];
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i = buf.indexOf('\n\n');
    while (i >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = block.split('\n').find((l) => l.startsWith('data: '));
      if (block.includes('event: status') && data) {
        const s = JSON.parse(data.slice(6)).status as string;
        statuses.push(s);
        onEvent(s);
      }
      i = buf.indexOf('\n\n');
    }
  }
  return statuses;
}

describe('GET /v1/orders/:id/events', () => {
  it('streams QUEUED, RESERVED, CONFIRMED and ends at the final status', async () => {
    const post = await fetch(`${gw.url}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-sse' },
      body: JSON.stringify({ user_id: 'u-sse', item_id: 'cap', quantity: 1 }),
    });
    expect(post.status).toBe(202);
    const { order_id: orderId } = (await post.json()) as { order_id: string };

    const res = await fetch(`${gw.url}/v1/orders/${orderId}/events`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const input = { orderId, itemId: 'cap', userId: 'u-sse', quantity: 1, correlationId: 'c', requestId: 'k-sse' };
    const done = readEvents(res, (s) => {
      // act like the processor: reserve once the client saw QUEUED, confirm once it saw RESERVED
      if (s === 'QUEUED') void reserve(redis, sale, input, 60_000);
      if (s === 'RESERVED') void confirm(redis, sale, 'cap', orderId);
    });
    expect(await done).toEqual(['QUEUED', 'RESERVED', 'CONFIRMED']);
    await eventually('no SSE watchers left', () => gw.ctx.sale.watchers === 0, 5000, 25);

    // a finished order: one event, then the stream ends
    const again = await fetch(`${gw.url}/v1/orders/${orderId}/events`);
    expect(await readEvents(again, () => {})).toEqual(['CONFIRMED']);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(
      /http_requests_total\{method="GET",route="\/v1\/orders\/:order_id\/events",status_code="200"\} 2/,
    );
    expect(metrics).toMatch(/http_requests_inprogress\{method="GET",route="\/v1\/orders\/:order_id\/events"\} 0/);
  });

  it('a payment after the hold expired: EXPIRED paid_after_expiry does not end the stream, REFUNDED does', async () => {
    const post = await fetch(`${gw.url}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-late' },
      body: JSON.stringify({ user_id: 'u-late', item_id: 'cap', quantity: 1 }),
    });
    expect(post.status).toBe(202);
    const { order_id: orderId } = (await post.json()) as { order_id: string };
    const res = await fetch(`${gw.url}/v1/orders/${orderId}/events`);
    const input = { orderId, itemId: 'cap', userId: 'u-late', quantity: 1, correlationId: 'c', requestId: 'k-late' };
    const done = readEvents(res, (s) => {
      // act like the processor: a hold of 50 ms, a payment that lands a second later, then the refund
      if (s === 'QUEUED') void reserve(redis, sale, input, 50);
      if (s === 'RESERVED') void confirm(redis, sale, 'cap', orderId, Date.now() + 1000);
      if (s === 'EXPIRED') void markRefunded(redis, sale, 'cap', orderId);
    });
    expect(await done).toEqual(['QUEUED', 'RESERVED', 'EXPIRED', 'REFUNDED']);
    const view = (await (await fetch(`${gw.url}/v1/orders/${orderId}`)).json()) as { status: string; reason: string };
    expect(view).toMatchObject({ status: 'REFUNDED', reason: PAID_AFTER_EXPIRY });
  });

  it('answers 404 as JSON for an unknown order and 400 for a malformed id', async () => {
    const res = await fetch(`${gw.url}/v1/orders/cap.unknown/events`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('NOT_FOUND');
    expect((await fetch(`${gw.url}/v1/orders/x/events`)).status).toBe(400);
  });
});
