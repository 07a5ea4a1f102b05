/**
 * The processor's only Kafka consumer module: the orders consumer group, the DLQ observer (each dead letter's
 * timestamp and reason, for the DLQ gauges by reason) and the admin reads of real offsets (lag, DLQ size).
 *
 * Offsets: eachBatch with autoCommit off. A batch (one partition) is handed to the handler, which returns only
 * when every effect is durable (Lua scripts answered, dead letters acknowledged); then the last offset is
 * resolved and committed explicitly. eachBatch rather than eachMessage so one partition's reserves can be
 * pipelined to Redis in order and its payments run concurrently. A crash before the commit redelivers the
 * batch, which the dedupe marker makes harmless.
 */
import {
  DLQ_HEADERS,
  DLQ_REASON_UNREAD,
  deleteGroupsQuietly,
  dlqRedriveGroupId,
  ensureTopics,
  groupLag,
  headersToStrings,
  type KafkaSasl,
  kafkaSecurityOptions,
  type Logger,
  type PartitionLag,
  processorGroupId,
  type TlsOption,
  topics,
  waitForLeaders,
} from '@flashsale/common';
import type { Admin, Consumer, Kafka as KafkaClient, KafkaMessage } from 'kafkajs';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS; its spread exports are invisible to ESM named imports
const { Kafka, logLevel: KafkaLogLevel } = kafkajs;

export interface InMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** ms since the epoch */
  timestamp: number;
}

export type BatchHandler = (messages: InMessage[]) => Promise<void>;

/** A fetched message; its headers become strings on first use (only a dead letter or a poison message reads them). */
class FetchedMessage implements InMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  private readonly raw: KafkaMessage['headers'];
  private decoded: Record<string, string> | undefined;
  constructor(topic: string, partition: number, m: KafkaMessage) {
    this.topic = topic;
    this.partition = partition;
    this.offset = m.offset;
    this.key = m.key ?? null;
    this.value = m.value ?? null;
    this.timestamp = Number(m.timestamp);
    this.raw = m.headers;
  }
  get headers(): Record<string, string> {
    this.decoded ??= headersToStrings(this.raw);
    return this.decoded;
  }
}

export interface ConsumerOptions {
  brokers: string[];
  clientId: string;
  tls: TlsOption;
  sasl?: KafkaSasl | undefined;
  sale: string;
  partitionsConcurrency: number;
  sessionTimeoutMs: number;
  /** kafkajs maxBytesPerPartition: a partition's batch is at most this much (the handler holds it until it settles) */
  fetchMaxBytesPerPartition: number;
  instanceId: string;
  log: Logger;
}

function kafkaFor(o: ConsumerOptions, suffix: string): KafkaClient {
  return new Kafka({
    clientId: `${o.clientId}-${suffix}`,
    brokers: o.brokers,
    ...kafkaSecurityOptions({ tls: o.tls, sasl: o.sasl }),
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (e) => {
      // kafkajs logs the errors it retries by itself at ERROR; real failures surface as CRASH events
      o.log.warn({ event: `kafka_${suffix}`, kafka: e.log.message, error: e.log.error }, 'kafka client');
    },
  });
}

interface SeenDeadLetter {
  offset: number;
  /** the message's timestamp (ms) */
  ts: number;
  /** its dlq_reason header */
  reason: string;
}

/** Dead letters of one reason not yet handled by the redrive. */
export interface DlqBacklog {
  count: number;
  oldestTs: number | undefined;
}

export class OrdersConsumer {
  private readonly o: ConsumerOptions;
  private readonly consumer: Consumer;
  private readonly observer: Consumer;
  private readonly admin: Admin;
  private readonly t: { orders: string; dlq: string };
  /** per DLQ partition: the dead letters observed, in offset order */
  private readonly dlqSeen = new Map<number, SeenDeadLetter[]>();
  private joined = false;
  private crashed: Error | undefined;

  constructor(o: ConsumerOptions) {
    this.o = o;
    this.t = topics(o.sale);
    const kafka = kafkaFor(o, 'orders');
    this.consumer = kafka.consumer({
      groupId: processorGroupId(o.sale),
      allowAutoTopicCreation: false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(o.sessionTimeoutMs / 10)),
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: o.fetchMaxBytesPerPartition,
    });
    // A group of its own per instance, never committing: it only reads DLQ timestamps and reasons.
    this.observer = kafka.consumer({
      groupId: `${processorGroupId(o.sale)}.dlq-observer.${o.instanceId}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
    });
    this.admin = kafka.admin();
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.joined = true;
      // kafkajs restarted the consumer after a retriable crash and it is back in the group: healthy again
      this.crashed = undefined;
      o.log.info({ event: 'group_joined', assignment: e.payload.memberAssignment }, 'joined the processor group');
    });
    this.consumer.on(CRASH, (e) => {
      this.crashed = e.payload.error;
      o.log.error({ event: 'consumer_crash', err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
  }

  get healthy(): boolean {
    return this.joined && this.crashed === undefined;
  }

  async connectAdmin(): Promise<void> {
    await this.admin.connect();
  }

  /** Wait until the sale's topics exist with leaders (when the operator or the CLI creates them). */
  async awaitTopics(timeoutMs = 120_000): Promise<void> {
    await waitForLeaders(this.admin, { [this.t.orders]: 1, [this.t.dlq]: 1 }, timeoutMs);
  }

  ensureTopics(partitions: number, replication: number) {
    return ensureTopics(this.admin, { sale: this.o.sale, partitions, replication });
  }

  /** Partition count of a topic (0 when it does not exist). */
  async partitionCount(topic: string): Promise<number> {
    const md = await this.admin.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] }));
    return md.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
  }

  async start(handle: BatchHandler): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.t.orders, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.o.partitionsConcurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isStale }) => {
        const last = batch.messages[batch.messages.length - 1];
        if (!last || isStale()) return;
        const hb = setInterval(
          () => heartbeat().catch(() => {}),
          Math.max(500, Math.floor(this.o.sessionTimeoutMs / 10)),
        );
        try {
          await handle(batch.messages.map((m) => new FetchedMessage(batch.topic, batch.partition, m)));
        } finally {
          clearInterval(hb);
        }
        // Effects are durable: now (and only now) move the position and commit it.
        resolveOffset(last.offset);
        if (isStale()) return; // revoked meanwhile: the new owner redelivers, the dedupe marker absorbs it
        const offset = String(Number(last.offset) + 1);
        try {
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset }]);
        } catch (e) {
          this.o.log.warn(
            { event: 'commit_failed', err: e, partition: batch.partition, offset },
            'offset commit failed',
          );
        }
      },
    });
    await this.startObserver();
  }

  private async startObserver(): Promise<void> {
    await this.observer.connect();
    await this.observer.subscribe({ topic: this.t.dlq, fromBeginning: true });
    await this.observer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let list = this.dlqSeen.get(batch.partition);
        if (!list) {
          list = [];
          this.dlqSeen.set(batch.partition, list);
        }
        for (const m of batch.messages) {
          const reason = m.headers?.[DLQ_HEADERS.reason]?.toString() ?? 'unknown';
          list.push({ offset: Number(m.offset), ts: Number(m.timestamp), reason });
        }
      },
    });
  }

  /** Lag of the processor group on the orders topic, per partition (the stuck-order sweeper's reading). */
  ordersLag(): Promise<PartitionLag[]> {
    return groupLag(this.admin, processorGroupId(this.o.sale), this.t.orders);
  }

  /**
   * Lag of the processor group on the orders topic, and the DLQ backlog against the redrive group: per partition
   * from the offsets, and per reason (count, oldest timestamp) from the dead letters observed. Dead letters past what
   * the observer has read so far count under the reason `unread`.
   */
  async offsets(): Promise<{ orders: PartitionLag[]; dlq: PartitionLag[]; dlqByReason: Map<string, DlqBacklog> }> {
    const [orders, dlq] = await Promise.all([
      this.ordersLag(),
      groupLag(this.admin, dlqRedriveGroupId(this.o.sale), this.t.dlq),
    ]);
    const byReason = new Map<string, DlqBacklog>();
    const add = (reason: string, n: number, ts?: number) => {
      const b = byReason.get(reason) ?? { count: 0, oldestTs: undefined };
      b.count += n;
      if (ts !== undefined && (b.oldestTs === undefined || ts < b.oldestTs)) b.oldestTs = ts;
      byReason.set(reason, b);
    };
    for (const p of dlq) {
      const seen = this.dlqSeen.get(p.partition) ?? [];
      // forget what the redrive has handled or retention removed
      while (seen.length > 0 && seen[0]!.offset < p.committed) seen.shift();
      let counted = 0;
      for (const d of seen) {
        if (d.offset >= p.high) break;
        add(d.reason, 1, d.ts);
        counted++;
      }
      if (p.lag > counted) add(DLQ_REASON_UNREAD, p.lag - counted);
    }
    return { orders, dlq, dlqByReason: byReason };
  }

  async stop(): Promise<void> {
    // disconnect waits for the batch in flight (which commits) before leaving the group
    await this.consumer.disconnect().catch((e) => this.o.log.warn({ err: e }, 'consumer disconnect'));
    await this.observer.disconnect().catch(() => {});
    const observerGroup = `${processorGroupId(this.o.sale)}.dlq-observer.${this.o.instanceId}`;
    await deleteGroupsQuietly(this.admin, [observerGroup]);
    await this.admin.disconnect().catch(() => {});
  }
}
