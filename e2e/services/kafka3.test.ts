import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';

describe('kafka3 (three KRaft brokers)', () => {
  const { brokers } = requireService('kafka3');
  const topic = `t-${randomUUID().slice(0, 8)}.rf3`;
  const kafka = new Kafka({ clientId: 'kafka3-smoke', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('creates a topic with replication factor 3 and accepts acks=all writes', async () => {
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(3);
    // with several brokers, waitForLeaders: true fails with UNKNOWN_TOPIC_OR_PARTITION in kafkajs 2.2.4: poll instead
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 3, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
      ],
      waitForLeaders: false,
    });
    const meta = await eventually('every partition to have a leader and 3 in-sync replicas', async () => {
      const m = await admin.fetchTopicMetadata({ topics: [topic] });
      const parts = m.topics[0]?.partitions ?? [];
      return parts.length === 3 && parts.every((p) => p.leader >= 0 && p.isr.length === 3) ? parts : undefined;
    });
    for (const p of meta) expect(p.replicas).toHaveLength(3);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [res] = await eventually('an acks=all write', () =>
      producer.send({ topic, acks: -1, messages: [{ value: 'x' }] }),
    );
    expect(res?.errorCode).toBe(0);
    await producer.disconnect();
  });
});
