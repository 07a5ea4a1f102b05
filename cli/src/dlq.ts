/**
 * DLQ redrive: list the sale's unhandled dead letters grouped by reason, and replay them to the orders topic,
 * filtered by reason and count, with a dry run.
 *
 * "Handled" is what the redrive consumer group (`dlqRedriveGroupId`) has committed; the processor's
 * `processor_dlq_size` and `processor_dlq_oldest_message_age_seconds` count from those offsets. Replaying is
 * idempotent: the processor's dedupe marker (the order hash) turns a replay of an order that already reached a
 * final status into a no-op, and an order a Redis failure never reserved is processed normally. Messages not
 * selected but lying before a replayed one in the same partition are appended again to the DLQ (same key,
 * value, headers and timestamp) so the committed offset can move past them without losing them.
 */
import { randomUUID } from 'node:crypto';
import {
  DLQ_HEADERS,
  dlqRedriveGroupId,
  groupLag,
  headersToStrings,
  type PartitionLag,
  topics,
  withAdminRetry,
} from '@flashsale/common';
import type { Admin, Kafka as KafkaClient } from 'kafkajs';
import kafkajs from 'kafkajs';
import { CliError } from './exit.ts';
import { authHint, type CliSecurity, kafkaAuth } from './security.ts';

const { Kafka, logLevel } = kafkajs;

export interface DlqClientOptions {
  brokers: string[];
  sale: string;
  clientId?: string;
  /** TLS trust and SASL credentials (security.ts); none: plaintext */
  security?: CliSecurity | undefined;
}

export interface DlqMessage {
  partition: number;
  offset: number;
  /** Kafka timestamp, ms since the epoch */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  reason: string;
  orderId: string | undefined;
}

function client(o: DlqClientOptions): KafkaClient {
  return new Kafka({
    clientId: o.clientId ?? 'flashsale-cli',
    brokers: o.brokers,
    ...(o.security ? kafkaAuth(o.security) : {}),
    logLevel: logLevel.NOTHING,
  });
}

/** Connect, turning a refused login into an error that names the variables to check. */
async function connectAdmin(admin: Admin, o: DlqClientOptions): Promise<void> {
  try {
    await admin.connect();
  } catch (e) {
    const hint = authHint(e, 'KAFKA');
    if (!hint) throw e;
    throw new CliError(`cannot use Kafka at ${o.brokers.join(',')}: ${(e as Error).message}${hint}`);
  }
}

function orderIdOf(value: Buffer | null): string | undefined {
  try {
    const id = (JSON.parse(value?.toString('utf8') ?? '') as { order_id?: unknown }).order_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Unhandled DLQ messages (offsets >= the redrive group's), in partition and offset order. */
async function readUnhandled(
  kafka: KafkaClient,
  admin: Admin,
  sale: string,
): Promise<{ lag: PartitionLag[]; messages: DlqMessage[] }> {
  const topic = topics(sale).dlq;
  const lag = await groupLag(admin, dlqRedriveGroupId(sale), topic);
  const pending = new Map(lag.filter((p) => p.lag > 0).map((p) => [p.partition, p]));
  const messages: DlqMessage[] = [];
  if (pending.size === 0) return { lag, messages };
  // A throwaway group reads; only the redrive group's offsets carry meaning (set by replay, below).
  const readerGroup = `${sale}.dlq-cli.${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId: readerGroup, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const p = pending.get(batch.partition);
          if (!p) return;
          for (const m of batch.messages) {
            const off = Number(m.offset);
            if (off < p.committed || off >= p.high) continue;
            const headers = headersToStrings(m.headers);
            messages.push({
              partition: batch.partition,
              offset: off,
              timestamp: Number(m.timestamp),
              key: m.key ?? null,
              value: m.value ?? null,
              headers,
              reason: headers[DLQ_HEADERS.reason] ?? 'unknown',
              orderId: orderIdOf(m.value ?? null),
            });
          }
          const last = batch.messages[batch.messages.length - 1];
          if (last && Number(last.offset) >= p.high - 1) pending.delete(batch.partition);
          if (pending.size === 0) resolve();
        },
      });
      if (pending.size === 0) resolve();
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out reading the DLQ topic')), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroups([readerGroup]).catch(() => {});
  }
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return { lag, messages };
}

export interface DlqSummary {
  sale: string;
  total: number;
  reasons: { reason: string; count: number; oldestAgeSeconds: number; sampleOrderIds: string[] }[];
  messages: DlqMessage[];
}

export async function listDlq(o: DlqClientOptions, now = Date.now()): Promise<DlqSummary> {
  const kafka = client(o);
  const admin = kafka.admin();
  await connectAdmin(admin, o);
  try {
    const { messages } = await readUnhandled(kafka, admin, o.sale);
    const by = new Map<string, DlqMessage[]>();
    for (const m of messages) by.set(m.reason, [...(by.get(m.reason) ?? []), m]);
    const reasons = [...by.entries()]
      .map(([reason, ms]) => ({
        reason,
        count: ms.length,
        oldestAgeSeconds: Math.max(0, (now - Math.min(...ms.map((m) => m.timestamp))) / 1000),
        sampleOrderIds: ms
          .map((m) => m.orderId)
          .filter((x): x is string => !!x)
          .slice(0, 5),
      }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    return { sale: o.sale, total: messages.length, reasons, messages };
  } finally {
    await admin.disconnect();
  }
}

export interface ReplayOptions extends DlqClientOptions {
  /** only messages with these reasons (default: all) */
  reasons?: string[] | undefined;
  /** at most this many messages (default: all selected) */
  count?: number | undefined;
  dryRun?: boolean | undefined;
}

export interface ReplayResult {
  dryRun: boolean;
  selected: number;
  replayed: number;
  /** unselected messages moved to the DLQ's end so the handled offset could pass them */
  requeued: number;
  byReason: Record<string, number>;
  orderIds: string[];
}

/** Replay selected DLQ messages to the orders topic, then mark them handled in the redrive group. */
export async function replayDlq(o: ReplayOptions): Promise<ReplayResult> {
  const kafka = client(o);
  const admin = kafka.admin();
  await connectAdmin(admin, o);
  try {
    const t = topics(o.sale);
    const { messages } = await readUnhandled(kafka, admin, o.sale);
    const want = o.reasons && o.reasons.length > 0 ? new Set(o.reasons) : undefined;
    let selected = messages.filter((m) => !want || want.has(m.reason));
    // oldest first across partitions when the count is limited
    if (o.count !== undefined) selected = [...selected].sort((a, b) => a.timestamp - b.timestamp).slice(0, o.count);
    const chosen = new Set(selected);
    const lastByPartition = new Map<number, number>();
    for (const m of selected)
      lastByPartition.set(m.partition, Math.max(lastByPartition.get(m.partition) ?? -1, m.offset));
    const requeue = messages.filter((m) => !chosen.has(m) && m.offset < (lastByPartition.get(m.partition) ?? -1));
    const byReason: Record<string, number> = {};
    for (const m of selected) byReason[m.reason] = (byReason[m.reason] ?? 0) + 1;
    const result: ReplayResult = {
      dryRun: !!o.dryRun,
      selected: selected.length,
      replayed: 0,
      requeued: 0,
      byReason,
      orderIds: selected.map((m) => m.orderId).filter((x): x is string => !!x),
    };
    if (o.dryRun || selected.length === 0) return result;

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const dlqKeys = new Set<string>(Object.values(DLQ_HEADERS));
      // one send per message: each request has one partition leader (see docs/design-notes.md on kafkajs)
      await Promise.all([
        ...selected.map((m) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers))
            if (!dlqKeys.has(k) || k === DLQ_HEADERS.attempt) headers[k] = v;
          if (m.headers[DLQ_HEADERS.correlationId])
            headers[DLQ_HEADERS.correlationId] = m.headers[DLQ_HEADERS.correlationId]!;
          if (m.headers[DLQ_HEADERS.requestId]) headers[DLQ_HEADERS.requestId] = m.headers[DLQ_HEADERS.requestId]!;
          return producer.send({ topic: t.orders, acks: -1, messages: [{ key: m.key, value: m.value, headers }] });
        }),
        ...requeue.map((m) =>
          producer.send({
            topic: t.dlq,
            acks: -1,
            messages: [{ key: m.key, value: m.value, headers: m.headers, timestamp: String(m.timestamp) }],
          }),
        ),
      ]);
    } finally {
      await producer.disconnect();
    }
    // Only now, with the replays acknowledged, move the handled offsets (a crash before this replays again:
    // harmless, the processor dedupes).
    const partitions = [...lastByPartition.entries()].map(([partition, last]) => ({
      partition,
      offset: String(last + 1),
    }));
    await withAdminRetry('setOffsets', () =>
      admin.setOffsets({ groupId: dlqRedriveGroupId(o.sale), topic: t.dlq, partitions }),
    );
    result.replayed = selected.length;
    result.requeued = requeue.length;
    return result;
  } finally {
    await admin.disconnect();
  }
}
