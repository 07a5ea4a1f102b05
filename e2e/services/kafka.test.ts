import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';
import { eventually } from '../support/wait.ts';

describe('kafka (single KRaft broker)', () => {
  const { brokers } = requireService('kafka');
  const id = `t-${randomUUID().slice(0, 8)}`;
  const topic = `${id}.smoke`;
  const groupId = `${id}-group`;
  const kafka = new Kafka({ clientId: id, brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });

  it('produces and consumes through a consumer group with committed offsets', async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const messages = Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    await producer.send({ topic, acks: -1, messages });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    const seen = new Set<string>();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        seen.add(String(message.value));
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
      },
    });
    await eventually('all 60 messages consumed', async () => seen.size === 60, 45_000);
    await consumer.disconnect();

    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = (offsets?.partitions ?? []).reduce((sum, p) => sum + Number(p.offset), 0);
    expect(offsets?.partitions).toHaveLength(3);
    expect(committed).toBe(60);
  });
});
