/**
 * Hundreds of malformed and poison messages interleaved with valid orders on ONE partition of the orders topic, read
 * by a real processor process: every poison message is dead-lettered once, with its original bytes and the reason
 * `invalid_order_format` (an order of another sale too; an unknown item: `unknown_item`), and the valid orders behind
 * them are all processed (the partition is never blocked). processor/test/processor-e2e.test.ts covers two poison
 * messages; this is the generated, high-volume version.
 */
import { DLQ_HEADERS, encodeOrder, type OrderMessage, type RedisClient, topics } from '@flashsale/common';
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDlq } from '../../processor/test/support.ts';
import { assertBooks, auditRun, redisOf } from '../support/audit.ts';
import { type Proc, startProcessor } from '../support/procs.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';

const { Kafka, logLevel } = kafkajs;
const sale = uniqueSale('poison');
let redis: RedisClient;
let p: Proc | undefined;

beforeAll(async () => {
  redis = redisOf(requireService('redis').addr);
  await prepareSale({ redis, brokers: requireService('kafka').brokers, sale, items: { ok: 1000 }, partitions: 1 });
});

afterAll(async () => {
  await p?.kill();
  redis?.disconnect();
});

const valid = (n: number): OrderMessage => ({
  v: 1,
  order_id: `ok.v${n}`,
  sale,
  item_id: 'ok',
  user_id: `user-${n}`,
  quantity: 1,
  request_id: `r${n}`,
  correlation_id: `c${n}`,
  created_at: new Date().toISOString(),
});

/** Values the schema refuses: not JSON, wrong shapes and types, out-of-range numbers, another sale, binary. */
const poison = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
  fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  fc
    .record({
      quantity: fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 101, max: 1e9 }), fc.double()),
      user_id: fc.oneof(fc.constant('u'), fc.constant(''), fc.constant('a b'), fc.integer()),
    })
    .map((o) => encodeLoose({ ...valid(0), order_id: 'ok.bad', ...o })),
  fc.constantFrom(
    Buffer.from('{not json'),
    Buffer.from('null'),
    Buffer.from('[]'),
    Buffer.from(`{"__proto__":{"polluted":true}}`),
    encodeLoose({ ...valid(0), order_id: 'ok.othersale', sale: 'another-sale' }),
    encodeLoose({ ...valid(0), v: 2 }),
    encodeLoose({ ...valid(0), extra: 1 }),
    encodeLoose({ ...valid(0), item_id: 'a.b', order_id: 'a.b.c' }),
    Buffer.alloc(200_000, 0x7b),
  ),
);

function encodeLoose(o: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(o));
}

describe('poison messages on the orders topic', () => {
  it('300 poison messages among 200 valid orders on one partition: each dead-lettered once with a reason, none blocks', async () => {
    const bad = fc.sample(poison, { numRuns: 300, seed: 7 });
    const unknown: OrderMessage[] = Array.from({ length: 5 }, (_, i) => ({
      ...valid(10_000 + i),
      item_id: 'nosuch',
      order_id: `nosuch.u${i}`,
    }));
    const goods = Array.from({ length: 200 }, (_, i) => valid(i));
    // interleave: every valid order has poison in front of it on the same partition
    const messages: { key: string; value: Buffer | null; headers?: Record<string, string> }[] = [
      { key: 'ok', value: null },
    ];
    let b = 0;
    for (const [i, g] of goods.entries()) {
      if (b < bad.length) messages.push({ key: 'ok', value: bad[b++]! });
      if (b < bad.length && i % 2)
        messages.push({ key: 'ok', value: bad[b++]!, headers: { correlation_id: '\u0000' } });
      messages.push({ key: 'ok', value: encodeOrder(g), headers: { correlation_id: g.correlation_id } });
    }
    while (b < bad.length) messages.push({ key: 'ok', value: bad[b++]! });
    for (const u of unknown) messages.push({ key: 'ok', value: encodeOrder(u) });

    const producer = new Kafka({
      clientId: 'poison-test',
      brokers: requireService('kafka').brokers,
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    for (let i = 0; i < messages.length; i += 100) {
      await producer.send({ topic: topics(sale).orders, acks: -1, messages: messages.slice(i, i + 100) });
    }
    await producer.disconnect();

    p = await startProcessor({
      ...saleProcEnv(sale, requireService('redis').addr, requireService('kafka').brokers),
      PAYMENT_FAILURE_RATE: '0',
      LOG_LEVEL: 'warn',
    });
    const accepted = new Map(goods.map((g) => [g.order_id, g.item_id]));
    const audit = await auditRun({ redis, sale, accepted, waitFinalMs: 60_000 });
    assertBooks(audit);
    expect(audit.statuses).toEqual({ CONFIRMED: 200 });

    const expectedDead = messages.length - goods.length; // poison + null value + unknown items
    let dlq = await readDlq(sale);
    for (let i = 0; i < 40 && dlq.length < expectedDead; i++) {
      await new Promise((r) => setTimeout(r, 500));
      dlq = await readDlq(sale);
    }
    expect(dlq).toHaveLength(expectedDead);
    const reasons: Record<string, number> = {};
    for (const e of dlq) {
      const reason = e.headers[DLQ_HEADERS.reason] ?? '';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
      expect(e.headers[DLQ_HEADERS.error]?.length ?? 0).toBeGreaterThan(0);
      expect(e.headers[DLQ_HEADERS.originalTopic]).toBe(topics(sale).orders);
    }
    process.stderr.write(`[poison] ${messages.length} messages, dead letters ${JSON.stringify(reasons)}\n`);
    expect(reasons).toEqual({ invalid_order_format: bad.length + 1, unknown_item: unknown.length });
    // the original bytes are kept (the DLQ holds what was refused, for inspection and redrive)
    const values = new Set(dlq.map((e) => e.value));
    for (const v of bad.slice(0, 50)) expect(values.has(v.toString())).toBe(true);
    expect(p.alive).toBe(true);
  }, 110_000);
});
