/**
 * The audit every fault test ends with: the books of a sale are right after the fault.
 *
 * - nothing oversold: per item, confirmed + held units <= initial stock, remaining >= 0;
 * - conservation: initial - remaining == confirmed + live holds (auditSale, drift 0);
 * - nothing lost: every order that got a 202 reaches a final status (readOrder);
 * - nothing confirmed twice: no order is seen entering CONFIRMED twice on the status channel, and the confirmed
 *   units the scripts counted equal the sum of the quantities of the order records in status CONFIRMED.
 */
import {
  auditSale,
  channels,
  createRedis,
  FINAL_STATUSES,
  type ItemAudit,
  isRefundDue,
  itemKeys,
  itemOfOrderId,
  type OrderStatus,
  parseAddrList,
  type RedisClient,
  type RedisConnectionConfig,
  readOrder,
} from '@flashsale/common';
import type { RedisOptions } from 'ioredis';

export interface AuditFigures {
  sale: string;
  items: number;
  initial: number;
  remaining: number;
  confirmed: number;
  held: number;
  released: number;
  expired: number;
  /** units of orders charged after their hold expired and refunded: part of expired (back in stock, never sold) */
  refunded: number;
  /** orders answered 202 */
  accepted: number;
  /** accepted orders with a final status */
  final: number;
  /** accepted orders with no record or no final status at the end of the wait */
  lost: number;
  /** units sold or held beyond the stock, summed over items */
  oversold: number;
  /** sum of |initial - remaining - confirmed - held| over items */
  drift: number;
  /** orders seen entering CONFIRMED more than once, or a confirmed-units mismatch */
  doubleConfirmed: number;
  /** status -> count over the accepted orders */
  statuses: Record<string, number>;
  /** order records CONFIRMED that never got a 202 (e.g. answered 5xx while the message still reached Kafka) */
  confirmedWithout202: number;
  /** CONFIRMED transitions seen on the status channel */
  confirmTransitions: number;
}

/** Subscribes to the sale's status channel and counts the transitions of every order. */
export class StatusWatch {
  private readonly sub: RedisClient;
  readonly transitions = new Map<string, Partial<Record<OrderStatus, number>>>();
  private ready: Promise<unknown>;

  /** `extra`: ioredis options, e.g. `{ tls: { ca } }` for a Redis with a private CA */
  constructor(cfg: RedisConnectionConfig | string, sale: string, extra: Partial<RedisOptions> = {}) {
    const c = typeof cfg === 'string' ? { mode: 'single' as const, nodes: parseAddrList(cfg) } : cfg;
    // reconnects by itself after a Redis restart; messages published while it is away are not seen
    this.sub = createRedis(c, { maxRetriesPerRequest: null, enableAutoPipelining: false, ...extra });
    this.sub.on('error', () => undefined);
    this.sub.on('message', (_ch: string, text: string) => {
      try {
        const m = JSON.parse(text) as { order_id?: string; status?: OrderStatus };
        if (!m.order_id || !m.status) return;
        const t = this.transitions.get(m.order_id) ?? {};
        t[m.status] = (t[m.status] ?? 0) + 1;
        this.transitions.set(m.order_id, t);
      } catch {
        // not ours
      }
    });
    this.ready = this.sub.subscribe(channels(sale).status);
  }

  async start(): Promise<this> {
    await this.ready;
    return this;
  }

  count(status: OrderStatus): number {
    let n = 0;
    for (const t of this.transitions.values()) n += t[status] ?? 0;
    return n;
  }

  /** orders that entered `status` more than once */
  repeated(status: OrderStatus): string[] {
    return [...this.transitions.entries()].filter(([, t]) => (t[status] ?? 0) > 1).map(([id]) => id);
  }

  close(): void {
    this.sub.disconnect();
  }
}

/** Accepted orders not final yet (what is "in flight" at the moment of a fault). */
export async function openOrders(r: RedisClient, sale: string, accepted: Map<string, string>): Promise<number> {
  const ids = [...accepted.keys()];
  const st = await Promise.all(ids.map((id) => r.hget(itemKeys(sale, itemOfOrderId(id)).order(id), 'status')));
  return st.filter((s) => !s || !FINAL_STATUSES.has(s as OrderStatus)).length;
}

/**
 * status and quantity of the given orders of the item, or (ids undefined) of every order record of the item by SCAN
 * (never KEYS; slow on a Redis shared with millions of other keys, so only used when the cheap check disagrees).
 */
async function orderRecords(r: RedisClient, sale: string, item: string, ids?: string[]) {
  const keyOf = itemKeys(sale, item).order;
  const prefix = keyOf('');
  const out = new Map<string, { status: string; quantity: number }>();
  const node = r as import('ioredis').Redis;
  const read = async (keys: string[]) => {
    const vals = await Promise.all(keys.map((k) => node.hmget(k, 'status', 'quantity')));
    keys.forEach((k, i) => {
      if (vals[i]?.[0]) out.set(k.slice(prefix.length), { status: vals[i][0], quantity: Number(vals[i][1] ?? 0) });
    });
  };
  if (ids) {
    await read(ids.map(keyOf));
    return out;
  }
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    await read(keys);
  } while (cursor !== '0');
  return out;
}

/**
 * Waits (bounded) until every accepted order is final, then audits. Never throws on a violation: it returns the
 * figures; `assertBooks` throws.
 */
export async function auditRun(opts: {
  redis: RedisClient;
  sale: string;
  accepted: Map<string, string>;
  watch?: StatusWatch | undefined;
  waitFinalMs?: number;
}): Promise<AuditFigures & { audits: ItemAudit[]; open: string[] }> {
  const { redis: r, sale, accepted } = opts;
  const until = Date.now() + (opts.waitFinalMs ?? 45_000);
  let open: string[] = [];
  const statusOf = new Map<string, string>();
  for (;;) {
    open = [];
    const ids = [...accepted.keys()];
    const recs = await Promise.all(ids.map((id) => readOrder(r, sale, accepted.get(id) ?? itemOfOrderId(id), id)));
    ids.forEach((id, i) => {
      const s = recs[i]?.status ?? 'MISSING';
      statusOf.set(id, s);
      // charged after the hold expired: final once the refund is recorded (REFUNDED)
      if (!FINAL_STATUSES.has(s as OrderStatus) || isRefundDue(s, recs[i]?.reason)) open.push(id);
    });
    if (open.length === 0 || Date.now() > until) break;
    await new Promise((res) => setTimeout(res, 250));
  }

  const audits = await auditSale(r, sale);
  let doubleConfirmed = opts.watch ? opts.watch.repeated('CONFIRMED').length : 0;
  let confirmedWithout202 = 0;
  // every order the run knows of: the 202s, and every order seen on the status channel (the gateway publishes QUEUED)
  const known = new Set([...accepted.keys(), ...(opts.watch?.transitions.keys() ?? [])]);
  for (const a of audits) {
    const confirmedUnits = (recs: Map<string, { status: string; quantity: number }>) => {
      let units = 0;
      let without = 0;
      for (const [id, rec] of recs) {
        if (rec.status !== 'CONFIRMED') continue;
        units += rec.quantity;
        if (!accepted.has(id)) without++;
      }
      return { units, without };
    };
    const ids = [...known].filter((id) => itemOfOrderId(id) === a.itemId);
    let c = confirmedUnits(await orderRecords(r, sale, a.itemId, ids));
    if (c.units !== a.confirmed) c = confirmedUnits(await orderRecords(r, sale, a.itemId));
    const units = c.units;
    confirmedWithout202 += c.without;
    // a second confirmation of one order would count its units twice in the item's meta
    if (units !== a.confirmed) doubleConfirmed += Math.max(1, Math.abs(a.confirmed - units));
  }
  const sum = (f: (a: ItemAudit) => number) => audits.reduce((n, a) => n + f(a), 0);
  const statuses: Record<string, number> = {};
  for (const s of statusOf.values()) statuses[s] = (statuses[s] ?? 0) + 1;
  return {
    sale,
    items: audits.length,
    initial: sum((a) => a.initial),
    remaining: sum((a) => a.remaining),
    confirmed: sum((a) => a.confirmed),
    held: sum((a) => a.held),
    released: sum((a) => a.released),
    expired: sum((a) => a.expired),
    refunded: sum((a) => a.refunded),
    accepted: accepted.size,
    final: accepted.size - open.length,
    lost: open.length,
    oversold: sum((a) => Math.max(0, a.confirmed + a.held - a.initial) + Math.max(0, -a.remaining)),
    drift: sum((a) => Math.abs(a.drift)),
    doubleConfirmed,
    statuses,
    confirmedWithout202,
    confirmTransitions: opts.watch?.count('CONFIRMED') ?? 0,
    audits,
    open,
  };
}

/** Throws naming every broken rule (with the first open orders and the per-item audits). */
export function assertBooks(f: AuditFigures & { audits: ItemAudit[]; open: string[] }): void {
  const broken: string[] = [];
  if (f.oversold > 0) broken.push(`oversold ${f.oversold} unit(s)`);
  if (f.drift !== 0) broken.push(`conservation broken: drift ${f.drift}`);
  // a refunded order consumes no stock: its units went back as an expired hold's
  if (f.refunded > f.expired) broken.push(`refunded ${f.refunded} unit(s) that never went back to stock`);
  if (f.lost > 0)
    broken.push(`${f.lost} accepted order(s) without a final status, e.g. ${f.open.slice(0, 5).join(', ')}`);
  if (f.doubleConfirmed > 0) broken.push(`${f.doubleConfirmed} order(s) confirmed twice`);
  if (f.items === 0) broken.push('no item audited (nothing seeded?)');
  if (broken.length) {
    throw new Error(`audit of ${f.sale} failed: ${broken.join('; ')}\n${JSON.stringify(f.audits, null, 1)}`);
  }
}

export function redisOf(addr: string, extra: Partial<RedisConnectionConfig> = {}): RedisClient {
  const r = createRedis({ mode: 'single', nodes: parseAddrList(addr), ...extra }, { maxRetriesPerRequest: 20 });
  r.on('error', () => undefined);
  return r;
}
