/** common/src/kafka-admin.ts against the real Kafka: one broker and three brokers (leaders awaited by polling). */
import { deleteTopics, ensureTopics, groupLag, topics, withAdminRetry } from '@flashsale/common';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { services, uniqueSale } from './support.ts';

const { Kafka, logLevel } = kafkajs;

function adminFor(which: 'kafka' | 'kafka3') {
  const k = services()[which];
  if (!k?.brokers?.length) throw new Error(`the harness provided no ${which} endpoint (services.${which} is missing)`);
  return new Kafka({ clientId: 'test-admin', brokers: k.brokers, logLevel: logLevel.NOTHING }).admin();
}

describe('ensureTopics', () => {
  it('creates both topics, is idempotent, grows partitions, never shrinks, and deletes', async () => {
    const admin = adminFor('kafka');
    await admin.connect();
    try {
      const sale = uniqueSale('adm');
      const t = topics(sale);
      const first = await ensureTopics(admin, { sale, partitions: 3, replication: 1, retentionMs: 3_600_000 });
      expect(first.created.sort()).toEqual([t.dlq, t.orders].sort());
      expect(first.partitions).toEqual({ [t.orders]: 3, [t.dlq]: 3 });
      const again = await ensureTopics(admin, { sale, partitions: 3, replication: 1 });
      expect(again).toMatchObject({ created: [], grown: [] });
      const grown = await ensureTopics(admin, { sale, partitions: 5, replication: 1, retentionMs: 7_200_000 });
      expect(grown.grown.sort()).toEqual([t.dlq, t.orders].sort());
      expect(grown.partitions[t.orders]).toBe(5);
      const shrink = await ensureTopics(admin, { sale, partitions: 2, replication: 1 });
      expect(shrink.partitions[t.orders]).toBe(5);
      const cfg = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: 2, name: t.orders, configNames: ['retention.ms'] }],
      });
      expect(cfg.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue).toBe('7200000');
      const lag = await groupLag(admin, `${sale}.nobody`, t.orders);
      expect(lag.map((p) => p.lag)).toEqual([0, 0, 0, 0, 0]);
      expect((await deleteTopics(admin, sale)).sort()).toEqual([t.dlq, t.orders].sort());
      expect(await deleteTopics(admin, sale)).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  }, 180_000);

  it('waits for every leader on a three-broker cluster (replication 3)', async () => {
    const admin = adminFor('kafka3');
    await admin.connect();
    try {
      const sale = uniqueSale('adm3');
      const res = await ensureTopics(admin, { sale, partitions: 6, replication: 3 });
      expect(res.partitions).toEqual({ [topics(sale).orders]: 6, [topics(sale).dlq]: 6 });
      // a broker can lag behind the one that answered ensureTopics: its own retry, as for every admin call
      const md = await withAdminRetry('metadata', () => admin.fetchTopicMetadata({ topics: [topics(sale).orders] }));
      expect(md.topics[0]!.partitions.every((p) => p.leader >= 0 && p.replicas.length === 3)).toBe(true);
      await deleteTopics(admin, sale);
    } finally {
      await admin.disconnect();
    }
  });
});
