/** startProcessor: wires Redis, the Kafka consumer and producer, payment, housekeeping and the HTTP endpoints. */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { checkTlsAtStartup, createLogger, topics } from '@flashsale/common';
import { createBucketCounts } from './buckets.ts';
import type { Clock } from './clock.ts';
import type { ProcessorConfig } from './config.ts';
import { OrdersConsumer } from './consumer.ts';
import { createHandler } from './handler.ts';
import { auditOnce, every, offsetsOnce, sweepOnce } from './housekeeping.ts';
import { startHttp } from './http.ts';
import { createMetrics } from './metrics.ts';
import { type PaymentProvider, SimulatedPaymentProvider } from './payment.ts';
import { DlqProducer } from './producer.ts';
import { createProcessorRedis } from './redis-client.ts';
import { Semaphore } from './semaphore.ts';
import { untilStarted } from './startup.ts';
import { stuckSweepOnce } from './stuck-orders.ts';

export interface ProcessorHandle {
  /** the HTTP port actually bound (useful with METRICS_PORT=0) */
  port: number;
  metrics: ReturnType<typeof createMetrics>;
  /**
   * run the sweeper (on every item, ignoring the sweep leases), the audit and the offset gauges now (they also run on
   * their intervals)
   */
  refresh(): Promise<void>;
  /** stop fetching, finish the batch in flight, commit, close everything */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** replace the simulated provider */
  payment?: PaymentProvider;
  /** register process-wide default metrics (off when several processors share a process) */
  defaultMetrics?: boolean;
  /** the time of holds and their sweep (a test's clock lets a hold's TTL pass at once; default: the wall clock) */
  clock?: Clock;
}

export async function startProcessor(config: ProcessorConfig, opts: StartOptions = {}): Promise<ProcessorHandle> {
  const log = createLogger('processor', config.logLevel).child({ sale: config.sale });
  // a certificate the configured trust does not accept stops start-up here (the clients would retry it forever)
  await checkTlsAtStartup(log, [
    { target: 'REDIS', endpoints: config.redis.nodes, tls: config.redis.tls },
    { target: 'KAFKA', endpoints: config.kafka.brokers, tls: config.kafka.tls },
  ]);
  const metrics = createMetrics(opts.defaultMetrics ?? true);
  const redis = createProcessorRedis(config);
  redis.on('error', (e: Error) => log.warn({ event: 'redis_error', err: e.message }, 'Redis connection error'));
  const payment = opts.payment ?? new SimulatedPaymentProvider({ ...config.payment });
  const instanceId = randomUUID().slice(0, 8);
  const consumer = new OrdersConsumer({
    brokers: config.kafka.brokers,
    clientId: config.kafka.clientId,
    tls: config.kafka.tls,
    sasl: config.kafka.sasl,
    sale: config.sale,
    partitionsConcurrency: config.partitionsConcurrency,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    fetchMaxBytesPerPartition: config.kafka.fetchMaxBytesPerPartition,
    instanceId,
    log,
  });
  const dlq = new DlqProducer(config.kafka, topics(config.sale).dlq, log);
  let draining = false;

  // Readiness: one Redis PING at a time, bounded by HEALTH_CHECK_TIMEOUT and shared for 0.5 s, so probes never pile up
  // on a Redis that hangs (liveness checks nothing external: ./http.ts).
  let pinged: { at: number; ok: Promise<boolean> } | undefined;
  const redisAnswers = () => {
    if (!pinged || Date.now() - pinged.at > 500) {
      let t: NodeJS.Timeout | undefined;
      const ok = Promise.race([
        redis
          .ping()
          .then((p) => p === 'PONG')
          .catch(() => false),
        new Promise<boolean>((resolve) => {
          t = setTimeout(() => resolve(false), config.healthCheckTimeoutMs);
        }),
      ]).finally(() => clearTimeout(t));
      pinged = { at: Date.now(), ok };
    }
    return pinged.ok;
  };
  const server = await startHttp(config.metrics.host, config.metrics.port, metrics.registry, async () => {
    const redisOk = await redisAnswers();
    const kafkaOk = consumer.healthy;
    return {
      status: redisOk && kafkaOk && !draining ? 'healthy' : 'unhealthy',
      redis: redisOk,
      kafka: kafkaOk,
      draining,
    };
  });
  const port = (server.address() as AddressInfo).port;

  const dlqPartitions = await untilStarted(log, 'Kafka and the sale topics', async () => {
    await consumer.connectAdmin();
    if (config.topics.ensure) await consumer.ensureTopics(config.topics.partitions, config.topics.replication);
    else await consumer.awaitTopics();
    await dlq.connect();
    return consumer.partitionCount(topics(config.sale).dlq);
  });

  // stock buckets per item, read once and shared by the handler, the sweeper and the audit
  const buckets = createBucketCounts(redis, config.sale);
  const handler = createHandler({
    config,
    redis,
    payment,
    dlq,
    metrics,
    log,
    paymentSlots: new Semaphore(config.payment.concurrency),
    dlqPartitions,
    onLevel: (item, remaining) => metrics.inventoryLevel.set({ item_id: item }, remaining),
    buckets,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const sweep = sweepOnce(config, redis, metrics, log, buckets, instanceId, opts.clock);
  const audit = auditOnce(config, redis, metrics, log, buckets);
  const offsets = offsetsOnce(consumer, metrics);
  const stuck = stuckSweepOnce({
    cfg: config,
    redis,
    producer: dlq,
    offsets: () => consumer.ordersLag(),
    metrics,
    log,
    token: instanceId,
  });
  const stoppers = [
    every(config.sweep.intervalMs, log, 'sweep', () => sweep(true)),
    every(config.auditIntervalMs, log, 'audit', audit),
    every(config.offsetsIntervalMs, log, 'offsets', offsets),
    every(config.stuck.intervalMs, log, 'stuck_sweep', () => stuck(true)),
  ];
  await consumer.start(handler);
  log.info({ event: 'processor_started', port, instance: instanceId }, 'Processor started');

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      draining = true;
      log.info({ event: 'processor_draining' }, 'Stopping: finishing the batch in flight');
      // housekeeping first (it uses the admin client the consumer closes), then the consumer: its disconnect
      // waits for the batch in flight, which still has Redis and the DLQ producer, and commits it
      await Promise.all(stoppers.map((s) => s()));
      await consumer.stop();
      await dlq.disconnect().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
      await new Promise<void>((r) => server.close(() => r()));
      log.info({ event: 'processor_stopped' }, 'Processor stopped');
    })();
    return stopping;
  };
  const refresh = async () => {
    await sweep(false); // now, on every item, whoever holds the sweep leases (the scripts are idempotent)
    await audit();
    await offsets();
  };
  return { port, metrics, refresh, stop };
}
