/**
 * Topic administration of a sale (orders + DLQ) over the kafkajs admin client, shared by the processor,
 * the operator and the CLI. kafkajs' own `waitForLeaders: true` fails on multi-broker clusters
 * (UNKNOWN_TOPIC_OR_PARTITION) and admin calls throw LEADER_NOT_AVAILABLE during elections, so topics are
 * created with `waitForLeaders: false`, leaders are awaited by polling metadata, and every call has its
 * own retry.
 */
import type { Admin } from 'kafkajs';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS; its spread exports are invisible to ESM named imports
const { ConfigResourceTypes } = kafkajs;

import { topics } from './topics.ts';

export interface TopicSpec {
  sale: string;
  partitions: number;
  replication: number;
  /** retention.ms of both topics; undefined keeps the broker default */
  retentionMs?: number | undefined;
  /** DLQ partitions (default: same as orders) */
  dlqPartitions?: number | undefined;
  /**
   * min.insync.replicas of both topics (set at creation, and kept on topics whose replication reaches it when their
   * config is altered); undefined keeps the broker default. See `topicReplication`.
   */
  minInsyncReplicas?: number | undefined;
}

/**
 * Replication of a sale's topics: the spec's factor, else what the cluster allows, min(3, brokers); with 3 or more
 * replicas min.insync.replicas 2, so an acks=all write survives the loss of one broker (issue 11, docs/capacity.md).
 */
export async function topicReplication(
  admin: Admin,
  wanted?: number | undefined,
): Promise<{ replication: number; minInsyncReplicas?: number }> {
  const replication =
    wanted ??
    Math.max(1, Math.min(3, (await withAdminRetry('describeCluster', () => admin.describeCluster())).brokers.length));
  return replication >= 3 ? { replication, minInsyncReplicas: 2 } : { replication };
}

export interface EnsureTopicsResult {
  created: string[];
  grown: string[];
  partitions: Record<string, number>;
}

const RETRIABLE = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'BROKER_NOT_AVAILABLE',
  'NETWORK_EXCEPTION',
]);

function isRetriable(e: unknown): boolean {
  const err = e as { type?: string; retriable?: boolean; name?: string; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.type && RETRIABLE.has(err.type)) return true;
  if (err.retriable === true) return true;
  if (err.name === 'KafkaJSConnectionError' || err.name === 'KafkaJSRequestTimeoutError') return true;
  if (err.name === 'KafkaJSNumberOfRetriesExceeded' || err.name === 'KafkaJSNonRetriableError') {
    return isRetriable(err.cause);
  }
  return false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retry an admin call on retriable Kafka errors with capped exponential backoff. */
export async function withAdminRetry<T>(what: string, fn: () => Promise<T>, attempts = 10): Promise<T> {
  let delay = 100;
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !isRetriable(e)) {
        throw new Error(`kafka admin ${what} failed after ${i} attempt(s): ${(e as Error).message}`, { cause: e });
      }
      await sleep(delay + Math.floor(Math.random() * delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/** Poll metadata until every partition of `names` exists (at least `want[name]` of them) and has a leader. */
export async function waitForLeaders(
  admin: Admin,
  want: Record<string, number>,
  timeoutMs = 30_000,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: Object.keys(want) });
      const counts: Record<string, number> = {};
      let ok = true;
      for (const t of md.topics) {
        counts[t.name] = t.partitions.length;
        if (t.partitions.length < (want[t.name] ?? 1) || t.partitions.some((p) => p.leader < 0)) ok = false;
      }
      if (ok && Object.keys(want).every((n) => counts[n] !== undefined)) return counts;
      last = JSON.stringify(counts);
    } catch (e) {
      if (!isRetriable(e)) throw e;
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`topics ${Object.keys(want).join(', ')} have no leaders yet (${last})`);
    await sleep(200);
  }
}

/**
 * Create the sale's orders and DLQ topics when missing, grow their partitions when asked for more (never
 * shrink: Kafka cannot, and keyed order would break), update retention, and wait until every partition has
 * a leader.
 */
export async function ensureTopics(admin: Admin, spec: TopicSpec): Promise<EnsureTopicsResult> {
  const t = topics(spec.sale);
  const want: Record<string, number> = {
    [t.orders]: spec.partitions,
    [t.dlq]: spec.dlqPartitions ?? spec.partitions,
  };
  const retention = spec.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(spec.retentionMs) }] : [];
  const isr =
    spec.minInsyncReplicas !== undefined
      ? [{ name: 'min.insync.replicas', value: String(spec.minInsyncReplicas) }]
      : [];
  const createEntries = [...retention, ...isr];
  const existing = new Set(await withAdminRetry('listTopics', () => admin.listTopics()));
  const missing = Object.keys(want).filter((n) => !existing.has(n));
  const created: string[] = [];
  if (missing.length > 0) {
    try {
      await withAdminRetry('createTopics', () =>
        admin.createTopics({
          waitForLeaders: false,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: want[topic],
            replicationFactor: spec.replication,
            ...(createEntries.length > 0 ? { configEntries: createEntries } : {}),
          })),
        }),
      );
    } catch (e) {
      // another caller created them meanwhile: fine
      if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(String((e as Error).message))) throw e;
    }
    created.push(...missing);
  }
  const counts = await waitForLeaders(admin, Object.fromEntries(Object.keys(want).map((n) => [n, 1])));
  const grow = Object.keys(want).filter((n) => (counts[n] ?? 0) < (want[n] ?? 0));
  if (grow.length > 0) {
    await withAdminRetry('createPartitions', () =>
      admin.createPartitions({ topicPartitions: grow.map((topic) => ({ topic, count: want[topic] ?? 1 })) }),
    );
  }
  const existed = Object.keys(want).filter((n) => existing.has(n));
  if (retention.length > 0 && existed.length > 0) {
    // AlterConfigs replaces a topic's overrides: min.insync.replicas is given again, but only to topics with enough
    // replicas for it (a topic created with fewer keeps the broker default, or it would refuse every acks=all write)
    const replicas = new Map<string, number>();
    if (spec.minInsyncReplicas !== undefined) {
      const md = await withAdminRetry('fetchTopicMetadata', () => admin.fetchTopicMetadata({ topics: existed }));
      for (const t of md.topics) replicas.set(t.name, Math.min(...t.partitions.map((p) => p.replicas.length)));
    }
    await withAdminRetry('alterConfigs', () =>
      admin.alterConfigs({
        validateOnly: false,
        resources: existed.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configEntries: (replicas.get(name) ?? 0) > (spec.minInsyncReplicas ?? 0) ? [...retention, ...isr] : retention,
        })),
      }),
    );
    // the change reaches the brokers' metadata asynchronously (KRaft): wait until they report it
    const wantRetention = String(spec.retentionMs);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const d = await withAdminRetry('describeConfigs', () =>
        admin.describeConfigs({
          includeSynonyms: false,
          resources: existed.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms'] })),
        }),
      );
      const seen = d.resources.map((r) => r.configEntries.find((e) => e.configName === 'retention.ms')?.configValue);
      if (seen.every((v) => v === wantRetention) || Date.now() > deadline) break;
      await sleep(200);
    }
  }
  const partitions = await waitForLeaders(admin, want);
  return { created, grown: grow, partitions };
}

/** Delete the sale's topics; missing topics are not an error. */
export async function deleteTopics(admin: Admin, sale: string): Promise<string[]> {
  const t = topics(sale);
  const existing = new Set(await withAdminRetry('listTopics', () => admin.listTopics()));
  const names = [t.orders, t.dlq].filter((n) => existing.has(n));
  if (names.length === 0) return [];
  await withAdminRetry('deleteTopics', () => admin.deleteTopics({ topics: names, timeout: 30_000 }));
  return names;
}

export interface PartitionLag {
  partition: number;
  low: number;
  high: number;
  /** next offset the group will read (committed offset, or low when the group has none) */
  committed: number;
  lag: number;
}

/** Per-partition lag of a consumer group on a topic, from real offsets. */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [ends, groups] = await Promise.all([
    withAdminRetry('fetchTopicOffsets', () => admin.fetchTopicOffsets(topic)),
    withAdminRetry('fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] })),
  ]);
  const committed = new Map<number, number>();
  for (const p of groups.find((g) => g.topic === topic)?.partitions ?? []) {
    committed.set(p.partition, Number(p.offset));
  }
  return ends
    .map((e) => {
      const low = Number(e.low);
      const high = Number(e.high);
      const c = committed.get(e.partition) ?? -1;
      const next = Math.max(c, low);
      return { partition: e.partition, low, high, committed: next, lag: Math.max(0, high - next) };
    })
    .sort((a, b) => a.partition - b.partition);
}

export interface PartitionRange {
  partition: number;
  low: number;
  high: number;
}

/** Each partition's first and next offset (its high watermark) now: what a read "to the end" reads. */
export async function topicRanges(admin: Admin, topic: string): Promise<PartitionRange[]> {
  const ends = await withAdminRetry('fetchTopicOffsets', () => admin.fetchTopicOffsets(topic));
  return ends
    .map((e) => ({ partition: e.partition, low: Number(e.low), high: Number(e.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/** Messages retained in a topic now, summed over its partitions. */
export async function topicSize(admin: Admin, topic: string): Promise<number> {
  return (await topicRanges(admin, topic)).reduce((n, p) => n + p.high - p.low, 0);
}

/** Move a consumer group's committed offsets on a topic (the group must have no live member). */
export async function setGroupOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
  partitions: { partition: number; offset: number }[],
): Promise<void> {
  await withAdminRetry('setOffsets', () =>
    admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ ...p, offset: String(p.offset) })) }),
  );
}

/** Delete throwaway consumer groups; best effort (a group still closing, or already gone, is left alone). */
export async function deleteGroupsQuietly(admin: Admin, groupIds: string[]): Promise<void> {
  await admin.deleteGroups(groupIds).catch(() => undefined);
}
