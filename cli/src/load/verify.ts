/**
 * The audit after a load run, from the system's own records, not from the generator's counters:
 * - every accepted order's record in Redis (`readOrder`) is polled until it has a final status or the settle time is up
 *   (lost = accepted orders with no record or no final status);
 * - units: the audit per item, summed over its stock buckets (`auditItemsOverBuckets`; oversold = confirmed + held beyond the initial stock; drift must be 0);
 * - the order stream: the orders topic is read back and every accepted order id must be in it; the DLQ topic's size;
 * - sold out: `SoldOutWatch` polls the stock levels (over each item's buckets) during the run and records the first
 *   moment every item is at 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  auditItemsOverBuckets,
  bucketCount,
  bucketLevels,
  FINAL_STATUSES,
  type ItemAudit,
  isRefundDue,
  type OrderStatus,
  type RedisClient,
  readLevels,
  readOrder,
  topicRanges,
  topicSize,
  topics,
} from '@flashsale/common';
import type { CliKafka } from '../kafka.ts';
import { increment } from './stats.ts';

/** Polls remaining stock; `soldOutAt` is the first time the sum over items reached 0. */
export class SoldOutWatch {
  soldOutAt: number | undefined;
  lastRemaining = Number.NaN;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly r: RedisClient;
  private readonly sale: string;
  private readonly items: string[];
  private buckets: number[] | undefined;

  constructor(r: RedisClient, sale: string, items: string[]) {
    this.r = r;
    this.sale = sale;
    this.items = items;
  }

  start(intervalMs = 50): this {
    this.timer = setInterval(() => void this.poll(), intervalMs);
    return this;
  }

  async poll(): Promise<number> {
    if (this.busy) return this.lastRemaining;
    this.busy = true;
    try {
      // a bucketed item's stock is the sum over its buckets (its K read once)
      this.buckets ??= await Promise.all(this.items.map((i) => bucketCount(this.r, this.sale, i)));
      const plain = this.items.filter((_, n) => this.buckets?.[n] === 1);
      const levels = [...(await readLevels(this.r, this.sale, plain)).values()];
      for (const [n, i] of this.items.entries()) {
        const k = this.buckets[n] ?? 1;
        if (k > 1) levels.push(...(await bucketLevels(this.r, this.sale, i, k)));
      }
      let sum = 0;
      for (const v of levels) sum += Math.max(0, v);
      this.lastRemaining = sum;
      if (sum === 0 && this.soldOutAt === undefined) this.soldOutAt = Date.now();
      return sum;
    } catch {
      return this.lastRemaining;
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

export interface StreamCheck {
  /** messages in the orders topic (all runs of the sale) */
  ordersInTopic: number;
  /** accepted orders of this run whose id is not in the orders topic */
  acceptedMissingFromTopic: number;
  /** messages in the DLQ topic */
  dlqMessages: number;
}

export interface Verification {
  settleMs: number;
  /** accepted orders by the final status in their Redis record */
  finalStatuses: Record<string, number>;
  /** accepted orders whose record never reached a final status within the settle time */
  pending: number;
  /** accepted orders with no record at all */
  missing: number;
  /** pending + missing (+ those missing from the orders topic): must be 0 */
  lost: number;
  items: ItemAudit[];
  /** units summed over items; refunded: units of orders charged after their hold expired and refunded (part of expired) */
  units: Pick<ItemAudit, 'initial' | 'remaining' | 'confirmed' | 'held' | 'released' | 'expired' | 'refunded'>;
  /** units sold or held beyond the seeded stock, summed over items: must be 0 */
  oversold: number;
  /** sum over items of |initial - remaining - confirmed - held|: must be 0 */
  drift: number;
  /** units confirmed by this run's accepted orders (from their records) */
  confirmedThisRun: number;
  stream?: StreamCheck | undefined;
}

export interface VerifyInput {
  redis: RedisClient;
  sale: string;
  items: string[];
  /** order id -> item id of every order answered 202 */
  accepted: Map<string, string>;
  quantity: number;
  settleSeconds: number;
  kafka?: CliKafka | undefined;
  onProgress?: (final: number, total: number) => void;
}

const CHUNK = 2000;

/** Read the records of `ids`; returns id -> status ('' when absent). */
async function readStatuses(
  r: RedisClient,
  sale: string,
  ids: [string, string][],
): Promise<Map<string, { status: string; quantity: number; reason: string }>> {
  const out = new Map<string, { status: string; quantity: number; reason: string }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const part = ids.slice(i, i + CHUNK);
    const recs = await Promise.all(part.map(([id, item]) => readOrder(r, sale, item, id)));
    part.forEach(([id], n) => {
      const rec = recs[n];
      out.set(id, { status: rec?.status ?? '', quantity: Number(rec?.quantity ?? 0), reason: rec?.reason ?? '' });
    });
  }
  return out;
}

/** Read the orders topic from the start to its current end; collect order ids. */
export async function readOrderIds(kafka: CliKafka, sale: string, timeoutMs = 60_000): Promise<Set<string>> {
  const topic = topics(sale).orders;
  const ranges = await kafka.withAdmin((admin) => topicRanges(admin, topic));
  const ids = new Set<string>();
  await kafka.read(
    topic,
    new Map(ranges.map((p) => [p.partition, { from: p.low, to: p.high }])),
    (m) => {
      try {
        const id = (JSON.parse(m.value?.toString('utf8') ?? '{}') as { order_id?: string }).order_id;
        if (id) ids.add(id);
      } catch {
        // not an order: the processor dead-letters it; nothing to count here
      }
    },
    timeoutMs,
  );
  return ids;
}

/** Wait until every accepted order is final (or the settle time is up), then audit. */
export async function verifySale(v: VerifyInput): Promise<Verification> {
  const t0 = Date.now();
  const deadline = t0 + v.settleSeconds * 1000;
  let open: [string, string][] = [...v.accepted.entries()];
  const final = new Map<string, { status: string; quantity: number }>();
  let lastSeen = new Map<string, { status: string; quantity: number; reason: string }>();
  for (;;) {
    lastSeen = await readStatuses(v.redis, v.sale, open);
    const still: [string, string][] = [];
    for (const e of open) {
      const s = lastSeen.get(e[0]);
      // an order charged after its hold expired is final once its refund is recorded (REFUNDED)
      if (s && FINAL_STATUSES.has(s.status as OrderStatus) && !isRefundDue(s.status, s.reason)) final.set(e[0], s);
      else still.push(e);
    }
    open = still;
    v.onProgress?.(final.size, v.accepted.size);
    if (open.length === 0 || Date.now() >= deadline) break;
    await sleep(250);
  }
  const finalStatuses: Record<string, number> = {};
  let confirmedThisRun = 0;
  for (const s of final.values()) {
    increment(finalStatuses, s.status);
    if (s.status === 'CONFIRMED') confirmedThisRun += s.quantity || v.quantity;
  }
  let missing = 0;
  let pending = 0;
  for (const [id] of open) {
    const s = lastSeen.get(id);
    if (!s || s.status === '') missing++;
    else {
      pending++;
      increment(finalStatuses, `${s.status} (not final)`);
    }
  }
  const items = await auditItemsOverBuckets(v.redis, v.sale, v.items);
  const units = { initial: 0, remaining: 0, confirmed: 0, held: 0, released: 0, expired: 0, refunded: 0 };
  let oversold = 0;
  let drift = 0;
  for (const a of items) {
    units.initial += a.initial;
    units.remaining += a.remaining;
    units.confirmed += a.confirmed;
    units.held += a.held;
    units.released += a.released;
    units.expired += a.expired;
    units.refunded += a.refunded;
    oversold += Math.max(0, a.confirmed + a.held - a.initial) + Math.max(0, -a.remaining);
    drift += Math.abs(a.drift);
  }
  let stream: StreamCheck | undefined;
  if (v.kafka) {
    const [ids, dlqMessages] = await Promise.all([
      readOrderIds(v.kafka, v.sale),
      v.kafka.withAdmin((admin) => topicSize(admin, topics(v.sale).dlq)),
    ]);
    let acceptedMissingFromTopic = 0;
    for (const id of v.accepted.keys()) if (!ids.has(id)) acceptedMissingFromTopic++;
    stream = { ordersInTopic: ids.size, acceptedMissingFromTopic, dlqMessages };
  }
  return {
    settleMs: Date.now() - t0,
    finalStatuses,
    pending,
    missing,
    lost: pending + missing + (stream?.acceptedMissingFromTopic ?? 0),
    items,
    units,
    oversold,
    drift,
    confirmedThisRun,
    stream,
  };
}
