/**
 * The floor of bench/gateway.ts: a fastify server whose order route does what the architecture cannot avoid and
 * nothing else: one admission-sized Redis script per request (the gateway's own lua/order_admit.lua, same keys and
 * arguments, one order per call) and one Kafka send of the order message the processor reads (the same fields and
 * headers as the gateway's, not checked) with the client the gateway uses (kafkajs, idempotent, acks=all, batched
 * every 2 ms), then 202. Until 2026-12-07 the floor sent a five-field value without headers (147 bytes written to
 * Kafka per order against the gateway's 407): less than the processor needs, so not the architecture's floor.
 * No validation, no metrics, no breaker, no stored answer: what is left between this and the full path is the
 * gateway's own overhead.
 *
 *   SALE_NAME, REDIS_ADDR, KAFKA_ADDR, PORT from the environment (bench/gateway.ts starts it).
 *   FLOOR_KAFKA_CLIENT=platformatic sends with @platformatic/kafka instead (installed by bench/kafka-clients.ts under
 *   $FSE_HOME/bench/kafka-clients): the floor a cheaper Kafka client would give (`node bench/gateway.ts --floor-client`).
 */
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  admitOrders,
  createRedis,
  newOrderId,
  ORDER_RECORD_TTL_SECONDS,
  type OrderMessage,
  orderMessageHeaders,
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
const topic = topics(sale).orders;
const sendBatch = await floorSender();

/** The produce request of one batch (acks=all, idempotent) with the client FLOOR_KAFKA_CLIENT names. */
async function floorSender(): Promise<(messages: Message[]) => Promise<unknown>> {
  if (process.env.FLOOR_KAFKA_CLIENT !== 'platformatic') {
    await producer.connect();
    return (messages) => producer.send({ topic, acks: -1, messages });
  }
  const home = process.env.FSE_HOME ?? join(homedir(), '.cache/flash-sale-engine');
  const entry = join(home, 'bench/kafka-clients/node_modules/@platformatic/kafka/dist/index.js');
  const { Producer } = await import(pathToFileURL(entry).href);
  const p = new Producer({
    clientId: 'bench-floor',
    bootstrapBrokers: (process.env.KAFKA_ADDR ?? '127.0.0.1:19092').split(','),
    idempotent: true,
    acks: -1,
  });
  return (messages) =>
    p.send({
      messages: messages.map((m) => ({
        topic,
        key: Buffer.from(String(m.key)),
        value: Buffer.from(m.value as string),
        headers: new Map(Object.entries(m.headers ?? {}).map(([h, v]) => [Buffer.from(h), Buffer.from(String(v))])),
      })),
    });
}

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
      sendBatch(batch.map((b) => b.message)).then(
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
  const now = Date.now();
  const correlationId = randomUUID();
  await admitOrders(redis, {
    sale,
    itemId: body.item_id,
    policy: { capacity: 60, refillPerSecond: 1, pendingTtlMs: 30_000, recordTtlSeconds: ORDER_RECORD_TTL_SECONDS },
    orders: [
      {
        orderId,
        userId: body.user_id,
        quantity: body.quantity,
        correlationId,
        requestId: key,
        now,
        perUserLimit: 0,
        brokerOpen: false,
      },
    ],
  });
  // the message of the contract the processor reads (every field, the four headers), built without its check
  const message: OrderMessage = {
    v: 1,
    order_id: orderId,
    sale,
    item_id: body.item_id,
    user_id: body.user_id,
    quantity: body.quantity,
    request_id: key,
    correlation_id: correlationId,
    created_at: new Date(now).toISOString(),
  };
  await send({ key: body.item_id, value: JSON.stringify(message), headers: orderMessageHeaders(message) });
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
