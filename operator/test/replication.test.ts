/**
 * Topic replication defaults to what the cluster allows: a sale without `topics.replicationFactor` on the harness's
 * three-broker Kafka gets both topics with 3 replicas and a topic-level min.insync.replicas of 2, kept when a later
 * retention change rewrites the topic config (AlterConfigs replaces a topic's overrides). On the one-broker Kafka the
 * same manifest gets 1 replica and no min.insync.replicas override.
 */
import { topics } from '@flashsale/common';
import kafkajs, { type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  deleteFlashSale,
  exampleSale,
  kafkaAdmin,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const kafka3 = inject('services').kafka3;
if (!kafka3) throw new Error('the three-broker Kafka (services.kafka3) is missing: the harness did not start it');
const env = useTestOperator('op-rf');
let admin3: Admin;
let admin1: Admin;

beforeAll(async () => {
  admin3 = new kafkajs.Kafka({
    clientId: 'op-rf',
    brokers: kafka3.brokers,
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin3.connect();
  admin1 = await kafkaAdmin();
});

afterAll(async () => {
  await admin3?.disconnect();
  await admin1?.disconnect();
});

async function replication(admin: Admin, topic: string) {
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  const replicas = Math.min(...(md.topics[0]?.partitions ?? []).map((p) => p.replicas.length));
  const d = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
  });
  const isr = d.resources[0]?.configEntries.find((e) => e.configName === 'min.insync.replicas');
  // configSource 1 = TOPIC_CONFIG: an override on the topic, not the broker's default
  return { replicas, minIsr: isr?.configValue, topicLevel: (isr as { configSource?: number })?.configSource === 1 };
}

describe('topic replication from the cluster', () => {
  it('three brokers: RF 3 and min.insync.replicas 2 on both topics, kept across a retention change', async () => {
    const name = uniq('rf');
    const m = exampleSale(name, env.ns, (x) => {
      x.spec.kafka.brokers = kafka3.brokers.join(',');
      delete x.spec.topics.replicationFactor;
      x.spec.deletionPolicy = 'Delete';
    });
    await applyManifest(m);
    await waitReady(env.ns, name);
    const t = topics(name);
    for (const topic of [t.orders, t.dlq]) {
      expect(await replication(admin3, topic)).toEqual({ replicas: 3, minIsr: '2', topicLevel: true });
    }
    m.spec.topics.retention = '24h';
    await applyManifest(m);
    await eventually('the retention change on the topic', async () => {
      const d = await admin3.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: t.orders, configNames: ['retention.ms'] }],
      });
      return d.resources[0]?.configEntries[0]?.configValue === String(24 * 3600 * 1000);
    });
    await waitReady(env.ns, name);
    expect(await replication(admin3, t.orders)).toEqual({ replicas: 3, minIsr: '2', topicLevel: true });
    await deleteFlashSale(env.ns, name);
  });

  it('one broker: RF 1 and the broker default min.insync.replicas', async () => {
    const name = uniq('rf');
    await applyManifest(
      exampleSale(name, env.ns, (x) => {
        delete x.spec.topics.replicationFactor;
        x.spec.deletionPolicy = 'Delete';
      }),
    );
    await waitReady(env.ns, name);
    expect(await replication(admin1, topics(name).orders)).toMatchObject({ replicas: 1, topicLevel: false });
    await deleteFlashSale(env.ns, name);
  });
});
