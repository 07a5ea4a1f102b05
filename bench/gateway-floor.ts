/**
 * The floor of bench/gateway.ts: a fastify server whose order route does what the architecture cannot avoid and
 * nothing else: one admission-sized Redis script (the gateway's own lua/order_admit.lua, same keys and arguments) and
 * one Kafka send with the client the gateway uses (kafkajs, idempotent, acks=all, batched every 2 ms), then 202.
 * No validation, no metrics, no breaker, no stored answer: what is left between this and the full path is the
 * gateway's own overhead.
 *
 *   SALE_NAME, REDIS_ADDR, KAFKA_ADDR, PORT from the environment (bench/gateway.ts starts it).
 */
import { randomUUID } from 'node:crypto';
import {
  callScript,
  createRedis,
  itemKeys,
  newOrderId,
  ORDER_RECORD_TTL_SECONDS,
  parseAddrList,
  topics,
} from '@flashsale/common';
import Fastify from 'fastify';
import { Kafka, logLevel, type Message, Partitioners } from 'kafkajs';

const sale = process.env.SALE_NAME ?? 'floor';
const redis = createRedis({ mode: 'single', nodes: parseAddrList(process.env.REDIS_ADDR ?? '127.0.0.1:16379') });
const kafka = new Kafka({
  clientId: 'bench-floor',
  brokers: (process.env.KAFKA_ADDR ?? '127.0.0.1:19092').split(','),
  logLevel: logLevel.NOTHING,
});
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
const topic = topics(sale).orders;

// the 2 ms micro-batcher: everything queued meanwhile goes in one produce request
let queue: { message: Message; done: (e?: unknown) => void }[] = [];
let scheduled = false;
function send(message: Message): Promise<void> {
  return new Promise((resolve, reject) => {
    queue.push({ message, done: (e) => (e ? reject(e) : resolve()) });
    if (scheduled) return;
    scheduled = true;
    setTimeout(() => {
      scheduled = false;
      const batch = queue;
      queue = [];
      producer.send({ topic, acks: -1, messages: batch.map((b) => b.message) }).then(
        () => {
          for (const b of batch) b.done();
        },
        (e: unknown) => {
          for (const b of batch) b.done(e);
        },
      );
    }, 2);
  });
}

const app = Fastify({ logger: false, bodyLimit: 4096 });
app.get('/livez', async () => ({ status: 'ok' }));
app.post('/v1/orders', async (req, reply) => {
  const body = req.body as { user_id: string; item_id: string; quantity: number };
  const key = String(req.headers['idempotency-key']);
  const orderId = newOrderId(sale, body.item_id, body.user_id, key);
  const k = itemKeys(sale, body.item_id);
  const now = Date.now();
  const correlationId = randomUUID();
  await callScript(
    redis,
    'order_admit',
    [k.order(orderId), k.answer(orderId), k.userBucket(body.user_id), k.user(body.user_id)],
    [now, body.user_id, body.quantity, correlationId, key, 0, 60, 1, 30_000, ORDER_RECORD_TTL_SECONDS, 0],
  );
  await send({
    key: body.item_id,
    value: JSON.stringify({ v: 1, order_id: orderId, sale, item_id: body.item_id, user_id: body.user_id }),
  });
  return reply.code(202).send({ order_id: orderId, status: 'QUEUED', correlation_id: correlationId });
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ event: 'gateway_started', address })}\n`);
process.on('SIGTERM', () => {
  void app
    .close()
    .then(() => Promise.allSettled([producer.disconnect(), redis.quit()]))
    .then(() => process.exit(0));
});
