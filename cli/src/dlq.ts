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
import {
  DLQ_HEADERS,
  dlqRedriveGroupId,
  groupLag,
  type PartitionLag,
  setGroupOffsets,
  topics,
} from '@flashsale/common';
import { CliKafka, type TopicMessage } from './kafka.ts';
import type { CliSecurity } from './security.ts';

export interface DlqClientOptions {
  brokers: string[];
  sale: string;
  clientId?: string;
  /** TLS trust and SASL credentials (security.ts); none: plaintext */
  security?: CliSecurity | undefined;
}

export interface DlqMessage extends TopicMessage {
  reason: string;
  orderId: string | undefined;
}

const client = (o: DlqClientOptions) =>
  new CliKafka({ brokers: o.brokers, clientId: o.clientId, security: o.security });

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
  kafka: CliKafka,
  lag: PartitionLag[],
  sale: string,
): Promise<{ lag: PartitionLag[]; messages: DlqMessage[] }> {
  const messages: DlqMessage[] = [];
  // a throwaway group reads; only the redrive group's offsets carry meaning (set by replay, below)
  await kafka.read(topics(sale).dlq, new Map(lag.map((p) => [p.partition, { from: p.committed, to: p.high }])), (m) =>
    messages.push({ ...m, reason: m.headers[DLQ_HEADERS.reason] ?? 'unknown', orderId: orderIdOf(m.value) }),
  );
  messages.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return { lag, messages };
}

const redriveLag = (kafka: CliKafka, sale: string) =>
  kafka.withAdmin((admin) => groupLag(admin, dlqRedriveGroupId(sale), topics(sale).dlq));

export interface DlqSummary {
  sale: string;
  total: number;
  reasons: { reason: string; count: number; oldestAgeSeconds: number; sampleOrderIds: string[] }[];
  messages: DlqMessage[];
}

export async function listDlq(o: DlqClientOptions, now = Date.now()): Promise<DlqSummary> {
  const kafka = client(o);
  const { messages } = await readUnhandled(kafka, await redriveLag(kafka, o.sale), o.sale);
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
  const t = topics(o.sale);
  const { messages } = await readUnhandled(kafka, await redriveLag(kafka, o.sale), o.sale);
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

  const dlqKeys = new Set<string>(Object.values(DLQ_HEADERS));
  const replayHeaders = (m: DlqMessage) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.headers)) if (!dlqKeys.has(k) || k === DLQ_HEADERS.attempt) headers[k] = v;
    if (m.headers[DLQ_HEADERS.correlationId])
      headers[DLQ_HEADERS.correlationId] = m.headers[DLQ_HEADERS.correlationId]!;
    if (m.headers[DLQ_HEADERS.requestId]) headers[DLQ_HEADERS.requestId] = m.headers[DLQ_HEADERS.requestId]!;
    return headers;
  };
  await kafka.produce([
    ...selected.map((m) => ({ topic: t.orders, key: m.key, value: m.value, headers: replayHeaders(m) })),
    ...requeue.map((m) => ({ topic: t.dlq, key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp })),
  ]);
  // Only now, with the replays acknowledged, move the handled offsets (a crash before this replays again:
  // harmless, the processor dedupes).
  const partitions = [...lastByPartition.entries()].map(([partition, last]) => ({ partition, offset: last + 1 }));
  await kafka.withAdmin((admin) => setGroupOffsets(admin, dlqRedriveGroupId(o.sale), t.dlq, partitions));
  result.replayed = selected.length;
  result.requeued = requeue.length;
  return result;
}
