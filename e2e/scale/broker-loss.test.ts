/**
 * One broker of a three-broker Kafka (topics RF 3, min.insync.replicas 2) SIGKILLed in the middle of a burst through a
 * real gateway and processor process, then started again on its old data:
 *
 * - every order answered 202 reaches a final status (0 lost), none is confirmed twice, the books balance;
 * - orders for items whose partition leader stayed alive keep being accepted (202) while the broker is down;
 * - the run reports how many requests got 503 (with Retry-After), for which partitions, and for how long.
 *
 * The cluster is this file's own (e2e/scale/support/kafka-cluster.ts), so the shared `kafka3` is never disturbed.
 */
import { ensureTopics, type RedisClient, seedItem, topics, withAdminRetry } from '@flashsale/common';
import kafkajs, { type PartitionMetadata } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBooks, auditRun, redisOf, StatusWatch } from '../support/audit.ts';
import type { Answer } from '../support/load.ts';
import { steadyStream } from '../support/load.ts';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { kafkaAdmin, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually, sleep } from '../support/wait.ts';
import { KafkaCluster } from './support/kafka-cluster.ts';

// kafkajs is CommonJS; some of its exports are invisible to ESM named imports
const { ConfigResourceTypes, Partitioners } = kafkajs;

const sale = uniqueSale('bloss');
const items = Array.from({ length: 12 }, (_, i) => `it${i}`);
const PARTITIONS = 6;
const kafka = new KafkaCluster();
let redis: RedisClient;
let watch: StatusWatch;
const procs: Proc[] = [];

beforeAll(async () => {
  const r = requireService('redis');
  redis = redisOf(r.addr);
  await kafka.start();
  for (const i of items) await seedItem(redis, sale, i, 1000);
  const admin = kafkaAdmin(kafka.brokers);
  await admin.connect();
  try {
    await ensureTopics(admin, { sale, partitions: PARTITIONS, replication: 3, dlqPartitions: 3 });
  } finally {
    await admin.disconnect();
  }
  // right after creation a broker may not host the topic yet (UNKNOWN_TOPIC_OR_PARTITION): retried
  await withAdminRetry('warm the group coordinator', warmGroupCoordinator);
  watch = await new StatusWatch(r.addr, sale).start();
}, 200_000);

/**
 * Join a throwaway group once, so the fresh cluster has created and loaded its offsets topic before the processor
 * joins (right after start the coordinator answers "loading" for a while).
 */
async function warmGroupCoordinator(): Promise<void> {
  const consumer = new kafkajs.Kafka({
    clientId: 'bloss-warm',
    brokers: kafka.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).consumer({ groupId: `bloss-warm-${sale}`, maxWaitTimeInMs: 100 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: topics(sale).dlq, fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    await Promise.race([joined, sleep(60_000)]);
  } finally {
    await consumer.disconnect();
  }
}

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await kafka.destroy();
  watch?.close();
  redis?.disconnect();
}, 60_000);

async function metadata(): Promise<PartitionMetadata[]> {
  const admin = kafkaAdmin(kafka.brokers.filter((_, i) => kafka.alive(i + 1)));
  await admin.connect();
  try {
    const m = await admin.fetchTopicMetadata({ topics: [topics(sale).orders] });
    return m.topics[0]?.partitions ?? [];
  } finally {
    await admin.disconnect();
  }
}

/** The partition of each item as the gateway's producer picks it (kafkajs default partitioner, key = item id). */
function partitionOf(parts: PartitionMetadata[]): Map<string, number> {
  const p = Partitioners.DefaultPartitioner();
  const topic = topics(sale).orders;
  return new Map(items.map((i) => [i, p({ topic, partitionMetadata: parts, message: { key: i, value: null } })]));
}

/** Where (partition/offset) each of `ids` sits in the orders topic, read from the start to the current end. */
async function findInTopic(ids: Set<string>): Promise<Map<string, string>> {
  const admin = kafkaAdmin(kafka.brokers);
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topics(sale).orders);
  await admin.disconnect();
  const want = new Map(ends.filter((e) => Number(e.high) > 0).map((e) => [e.partition, Number(e.high)]));
  const found = new Map<string, string>();
  const consumer = new kafkajs.Kafka({
    clientId: 'bloss-reader',
    brokers: kafka.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).consumer({ groupId: `bloss-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: topics(sale).orders, fromBeginning: true });
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 30_000);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const id = (JSON.parse(String(message.value)) as { order_id: string }).order_id;
        if (ids.has(id)) found.set(id, `${partition}@${message.offset}`);
        if (Number(message.offset) >= (want.get(partition) ?? 0) - 1) want.delete(partition);
        if (want.size === 0) {
          clearTimeout(t);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return found;
}

const span = (as: Answer[]) =>
  as.length === 0 ? 0 : Math.max(...as.map((a) => a.at + a.ms)) - Math.min(...as.map((a) => a.at));

describe('a broker lost mid-burst on a three-broker Kafka', () => {
  it('loses no accepted order, doubles none, and keeps accepting on live leaders', async () => {
    // the topics really are RF 3 with min.insync.replicas 2
    const admin = kafkaAdmin(kafka.brokers);
    await admin.connect();
    const cfg = await withAdminRetry('describeConfigs', () =>
      admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          { type: ConfigResourceTypes.TOPIC, name: topics(sale).orders, configNames: ['min.insync.replicas'] },
        ],
      }),
    );
    await admin.disconnect();
    expect(cfg.resources[0]?.configEntries[0]?.configValue).toBe('2');
    const before = await withAdminRetry('metadata', async () => {
      const m = await metadata();
      if (!m.every((p) => p.replicas.length === 3 && p.isr.length === 3)) throw new Error('ISR not full yet');
      return m;
    }).catch(() => metadata());
    expect(before.every((p) => p.replicas.length === 3 && p.isr.length === 3)).toBe(true);

    const env = saleProcEnv(sale, requireService('redis').addr, kafka.brokers);
    const [gw, p] = await Promise.all([
      // Until the dead broker is fenced (broker.session.timeout.ms, 2 s here) it is still in every ISR, so no
      // partition can be acknowledged with acks=all: the first sends after the kill time out on every leader and
      // count for the breaker. The open period is shortened so the run measures what comes after the fence.
      startGateway({
        ...env,
        KAFKA_SEND_TIMEOUT: '4s',
        CIRCUIT_BREAKER_BASE_TIMEOUT: '1s',
        CIRCUIT_BREAKER_MAX_TIMEOUT: '2s',
        LOG_LEVEL: 'warn',
      }),
      startProcessor({
        ...env,
        PAYMENT_FAILURE_RATE: '0.05',
        HOLD_TTL: '60s',
        TOPIC_PARTITIONS: String(PARTITIONS),
        TOPIC_REPLICATION: '3',
        LOG_LEVEL: 'warn',
      }),
    ]);
    procs.push(gw, p);

    // the victim leads the partition of it0; some other item must be led by a broker that stays alive
    const part = partitionOf(before);
    const leaderOf = new Map(before.map((x) => [x.partitionId, x.leader]));
    const victim = leaderOf.get(part.get('it0')!)!;
    const liveItems = new Set(items.filter((i) => leaderOf.get(part.get(i)!) !== victim));
    expect(liveItems.size).toBeGreaterThan(0);
    expect(liveItems.size).toBeLessThan(items.length);

    const stream = steadyStream(gw.url, { items, clients: 6, paceMs: 20, timeoutMs: 15_000 });
    const { log } = stream;
    let killAt = 0;
    let restartAt = 0;
    let upAt = 0;
    // after the fence (2 s) and at most one send timeout (4 s) plus the breaker's open period: live leaders accept
    const settledAfterKill = 2000 + 4000 + 2000;
    try {
      await eventually('a steady stream of accepted orders', () => log.accepted.size >= 50, 30_000, 50);
      killAt = Date.now();
      await kafka.kill(victim);
      // down until every item whose leader lives was accepted again after the fence (asserted below, with figures)
      await eventually(
        'a 202 after the fence for every item led by a live broker',
        () =>
          [...liveItems].every((item) =>
            log.answers.some((a) => a.itemId === item && a.status === 202 && a.at >= killAt + settledAfterKill),
          ),
        40_000,
        100,
      ).catch(() => undefined);
      restartAt = Date.now();
      await kafka.restart(victim);
      upAt = Date.now();
      await eventually(
        'orders accepted after the restart',
        () => log.answers.filter((a) => a.status === 202 && a.at > upAt).length >= 50,
        30_000,
        50,
      );
    } finally {
      await stream.stop();
    }

    const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 60_000 });
    const down = log.answers.filter((a) => a.at >= killAt && a.at < upAt);
    const liveDown = down.filter((a) => liveItems.has(a.itemId));
    const settledFrom = killAt + settledAfterKill;
    const liveSettled = liveDown.filter((a) => a.at >= settledFrom && a.at < restartAt);
    // a sold-out item (409) is an answer, not a refusal; everything else must be a 202 or a 503
    const refused = log.answers.filter((a) => a.status !== 202 && a.status !== 409);
    const r503 = refused.filter((a) => a.status === 503);
    const figures = {
      victim: kafka.brokerOf(victim),
      partitionsLedByVictim: before.filter((x) => x.leader === victim).map((x) => x.partitionId),
      requests: log.answers.length,
      accepted: log.accepted.size,
      byStatus: log.byStatus(),
      brokerDownMs: upAt - killAt,
      restartTookMs: upAt - restartAt,
      whileDown: { requests: down.length, accepted: down.filter((a) => a.status === 202).length },
      liveLeaderWhileDown: {
        requests: liveDown.length,
        accepted: liveDown.filter((a) => a.status === 202).length,
        refused503: liveDown.filter((a) => a.status === 503).length,
        afterFence: { requests: liveSettled.length, accepted: liveSettled.filter((a) => a.status === 202).length },
      },
      refused503: {
        count: r503.length,
        liveLeaderItems: r503.filter((a) => liveItems.has(a.itemId)).length,
        deadLeaderItems: r503.filter((a) => !liveItems.has(a.itemId)).length,
        firstAfterKillMs: r503.length ? Math.min(...r503.map((a) => a.at)) - killAt : null,
        spanMs: span(r503),
        withRetryAfter: r503.filter((a) => Number(a.retryAfter) >= 1).length,
      },
      slowestAnswerMs: Math.max(...log.answers.map((a) => a.ms)),
      audit: {
        lost: audit.lost,
        doubleConfirmed: audit.doubleConfirmed,
        oversold: audit.oversold,
        drift: audit.drift,
        confirmed: audit.confirmed,
        statuses: audit.statuses,
        confirmedWithout202: audit.confirmedWithout202,
      },
    };
    process.stderr.write(`[broker-loss] ${JSON.stringify(figures)}\n`);
    if (figures.liveLeaderWhileDown.accepted < figures.liveLeaderWhileDown.requests / 2) {
      const lines = gw.output.split('\n').filter((l) => /kafka_client|order_not_queued|kafka_producer|breaker/.test(l));
      process.stderr.write(`[broker-loss] gateway Kafka log:\n${lines.slice(0, 40).join('\n')}\n`);
    }
    if (audit.open.length > 0) {
      // which side lost them: the producer (not in the topic) or the consumer (in the topic, never acted on)
      const inTopic = await findInTopic(new Set(audit.open));
      process.stderr.write(
        `[broker-loss] open orders: ${JSON.stringify(audit.open.map((id) => ({ id, partition: part.get(id.split('.')[0]!), inTopic: inTopic.get(id) ?? null })))}\n`,
      );
    }

    assertBooks(audit);
    expect(audit.lost).toBe(0);
    expect(audit.doubleConfirmed).toBe(0);
    expect(watch.repeated('CONFIRMED')).toEqual([]);
    // every refusal is a 503 with Retry-After (no 500, no hang past the client's timeout)
    for (const a of refused) {
      expect(a.status, JSON.stringify(a)).toBe(503);
      expect(Number(a.retryAfter), JSON.stringify(a)).toBeGreaterThanOrEqual(1);
    }
    // once the dead broker is fenced, the items whose leader lives are accepted while it stays down
    expect(liveSettled.length).toBeGreaterThan(0);
    for (const item of liveItems) {
      expect(
        liveSettled.some((a) => a.itemId === item && a.status === 202),
        `no 202 for ${item} between the fence and the restart`,
      ).toBe(true);
    }
    // the processor went on consuming and the gateway never died
    expect(p.alive, `processor exited:\n${p.tail()}`).toBe(true);
    expect(gw.alive, `gateway exited:\n${gw.tail()}`).toBe(true);
  }, 300_000);
});
