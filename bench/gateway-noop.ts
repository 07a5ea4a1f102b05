/** The baseline of bench/gateway.ts: a fastify server whose order route parses the body and answers 202, nothing else. */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 4096 });
app.get('/livez', async () => ({ status: 'ok' }));
app.post('/v1/orders', async (req, reply) => {
  const body = req.body as { item_id?: string };
  return reply
    .code(202)
    .send({ order_id: `${body.item_id}.${randomUUID()}`, status: 'QUEUED', correlation_id: req.id });
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ event: 'gateway_started', address })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
