/**
 * The CLI's one Kafka module (docs/architecture.md: the client library is replaceable in one place). Every kafkajs
 * client of `up`, `load`'s audit and `dlq` is made here; topic and consumer-group administration goes through
 * common/src/kafka-admin.ts with the admin connection this module opens. Messages reach the rest of the CLI as plain
 * `TopicMessage`s, never as kafkajs types.
 */
import { randomUUID } from 'node:crypto';
import { deleteGroupsQuietly, headersToStrings } from '@flashsale/common';
import kafkajs, { type Admin } from 'kafkajs';
import { CliError } from './exit.ts';
import { authHint, type CliSecurity, kafkaAuth, tlsHint } from './security.ts';

// kafkajs is CommonJS; its spread exports are invisible to ESM named imports
const { Kafka, logLevel } = kafkajs;

export interface TopicMessage {
  partition: number;
  offset: number;
  /** Kafka timestamp, ms since the epoch */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** One record to append; `timestamp` keeps the original one (ms since the epoch). */
export interface OutgoingMessage {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  timestamp?: number | undefined;
}

export interface CliKafkaOptions {
  brokers: string[];
  clientId?: string | undefined;
  /** TLS trust and SASL credentials (security.ts); none: plaintext */
  security?: CliSecurity | undefined;
  /** give up on an unreachable broker within seconds (`up` at start-up) instead of kafkajs' default retries */
  failFast?: boolean | undefined;
}

export class CliKafka {
  readonly brokers: string[];
  private readonly client: InstanceType<typeof Kafka>;

  constructor(o: CliKafkaOptions) {
    this.brokers = o.brokers;
    this.client = new Kafka({
      clientId: o.clientId ?? 'flashsale-cli',
      brokers: o.brokers,
      ...(o.security ? kafkaAuth(o.security) : {}),
      ...(o.failFast
        ? { connectionTimeout: 3000, requestTimeout: 15_000, retry: { retries: 3, initialRetryTime: 200 } }
        : {}),
      logLevel: logLevel.NOTHING,
    });
  }

  /** Run `fn` with a connected admin client; a refused connection is a CliError naming what to check. */
  async withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = this.client.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw new CliError(
        `cannot reach Kafka at ${this.brokers.join(',')}: ${(e as Error).message} (pass --kafka host:port)` +
          tlsHint(e, '--kafka-ca') +
          authHint(e, 'KAFKA'),
      );
    }
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * Read `topic` with a throwaway consumer group (deleted afterwards): every message at offsets [from, to) of the
   * partitions in `ranges`, in order per partition, until each partition reached its `to`.
   */
  async read(
    topic: string,
    ranges: Map<number, { from: number; to: number }>,
    onMessage: (m: TopicMessage) => void,
    timeoutMs = 60_000,
  ): Promise<void> {
    const todo = new Map([...ranges].filter(([, r]) => r.to > r.from));
    if (todo.size === 0) return;
    const groupId = `flashsale-cli-read-${randomUUID().slice(0, 8)}`;
    const consumer = this.client.consumer({
      groupId,
      maxWaitTimeInMs: 200,
      maxBytes: 16 * 1024 * 1024,
      sessionTimeout: 10_000,
    });
    await consumer.connect();
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const finished = new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const r = todo.get(batch.partition);
            if (!r) return;
            for (const m of batch.messages) {
              const offset = Number(m.offset);
              if (offset < r.from || offset >= r.to) continue;
              onMessage({
                partition: batch.partition,
                offset,
                timestamp: Number(m.timestamp),
                key: m.key ?? null,
                value: m.value ?? null,
                headers: headersToStrings(m.headers),
              });
            }
            const last = batch.messages[batch.messages.length - 1];
            if (last && Number(last.offset) + 1 >= r.to) todo.delete(batch.partition);
            if (todo.size === 0) resolve();
          },
        });
      });
      await Promise.race([
        finished,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`reading ${topic} back took more than ${timeoutMs / 1000} s`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
      await this.withAdmin((admin) => deleteGroupsQuietly(admin, [groupId])).catch(() => undefined);
    }
  }

  /** Append records, acknowledged by all in-sync replicas; one request per record (each has one leader). */
  async produce(records: OutgoingMessage[]): Promise<void> {
    if (records.length === 0) return;
    const producer = this.client.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await Promise.all(
        records.map((r) =>
          producer.send({
            topic: r.topic,
            acks: -1,
            messages: [
              {
                key: r.key,
                value: r.value,
                headers: r.headers,
                ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
              },
            ],
          }),
        ),
      );
    } finally {
      await producer.disconnect();
    }
  }
}
