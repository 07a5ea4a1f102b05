/**
 * What the gateway knows about its sale without asking anyone per request: the window (from configuration),
 * and per item the remaining stock and the per-user limit. Kept fresh by the stock channel
 * (`channels(sale).stock`, sold-out / restocked events, pushed within milliseconds) and a short poll as a
 * backstop (missed messages during a subscriber reconnect, items seeded later).
 */
import { bucketLevels, channels, itemKeys, listItems, type RedisClient } from '@flashsale/common';
import type { Logger } from 'pino';

export type SalePhase = 'scheduled' | 'open' | 'ended';

export interface ItemState {
  remaining: number;
  perUserLimit: number;
  /** last pub/sub event for the item (ms); a poll started before it does not override it */
  eventAt: number;
}

type StatusListener = (status: string) => void;

export class SaleState {
  readonly sale: string;
  readonly startsAt: number | undefined;
  readonly endsAt: number | undefined;
  readonly items = new Map<string, ItemState>();
  /** true once the item list was read at least once */
  loaded = false;
  lastRefreshAt = 0;
  private readonly redis: RedisClient;
  private readonly sub: RedisClient;
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly subscribeTimeoutMs: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly statusListeners = new Map<string, Set<StatusListener>>();
  private statusSubscribed: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    opts: {
      sale: string;
      startsAt?: number | undefined;
      endsAt?: number | undefined;
      pollMs: number;
      subscribeTimeoutMs?: number;
    },
    redis: RedisClient,
    sub: RedisClient,
    log: Logger,
  ) {
    this.sale = opts.sale;
    this.startsAt = opts.startsAt;
    this.endsAt = opts.endsAt;
    this.pollMs = opts.pollMs;
    this.subscribeTimeoutMs = opts.subscribeTimeoutMs ?? 2000;
    this.redis = redis;
    this.sub = sub;
    this.log = log;
  }

  phase(now = Date.now()): SalePhase {
    if (this.startsAt !== undefined && now < this.startsAt) return 'scheduled';
    if (this.endsAt !== undefined && now >= this.endsAt) return 'ended';
    return 'open';
  }

  async start(): Promise<void> {
    const ch = channels(this.sale);
    this.sub.on('message', (channel: string, text: string) => {
      if (channel === ch.stock) this.onStockEvent(text);
      else if (channel === ch.status) this.onStatusEvent(text);
    });
    // After a reconnect ioredis re-subscribes; re-read the stock to cover messages missed meanwhile.
    this.sub.on('ready', () => {
      void this.refresh();
    });
    // The subscriber's commands wait for Redis without limit (they must survive reconnects), so with Redis down at
    // start-up the first load is awaited for a bounded time only: the gateway listens, answers /livez and stays
    // unready; the queued SUBSCRIBE, the 'ready' refresh above and the poll below load the state once Redis answers.
    const first = (async () => {
      await this.sub.subscribe(ch.stock);
      await this.refresh();
    })();
    const notLoaded = (err: string) =>
      this.log.warn({ event: 'sale_state_unavailable', err }, 'Stock state not loaded yet');
    let t: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      first.then(
        () => 'loaded',
        (e: Error) => e.message,
      ),
      new Promise<string>((resolve) => {
        t = setTimeout(
          () => resolve(`no answer from Redis within ${this.subscribeTimeoutMs} ms`),
          this.subscribeTimeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(t));
    if (waited !== 'loaded') {
      notLoaded(waited);
      // a first load that fails after the wait is not an unhandled rejection; the refreshes retry it
      first.catch(() => {});
    }
    const tick = () => {
      if (this.stopped) return;
      void this.refresh().finally(() => {
        if (!this.stopped) this.pollTimer = setTimeout(tick, this.pollMs).unref();
      });
    };
    this.pollTimer = setTimeout(tick, this.pollMs).unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.pollTimer);
  }

  /** Known sold out: the fast path refuses without any round trip. */
  isSoldOut(item: string): boolean {
    const s = this.items.get(item);
    return s !== undefined && s.remaining <= 0;
  }

  /** Known not to belong to the sale (only once the item list is loaded and not empty). */
  isUnknownItem(item: string): boolean {
    return this.loaded && this.items.size > 0 && !this.items.has(item);
  }

  perUserLimit(item: string): number {
    return this.items.get(item)?.perUserLimit ?? 0;
  }

  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const startedAt = Date.now();
    try {
      const ids = await listItems(this.redis, this.sale);
      const values = await Promise.all(
        ids.map(async (id) => {
          const k = itemKeys(this.sale, id);
          const [stock, meta] = await Promise.all([
            this.redis.get(k.stock),
            this.redis.hmget(k.meta, 'per_user_limit', 'buckets'),
          ]);
          return [await this.remainingOf(id, stock, meta[1] ?? null), meta[0] ?? null] as const;
        }),
      );
      const seen = new Set(ids);
      ids.forEach((id, n) => {
        const [stock, limit] = values[n] ?? [null, null];
        const prev = this.items.get(id);
        const remaining = Number(stock ?? 0);
        const perUserLimit = Number(limit ?? 0);
        if (prev && prev.eventAt >= startedAt) {
          prev.perUserLimit = perUserLimit;
          return;
        }
        this.items.set(id, { remaining, perUserLimit, eventAt: prev?.eventAt ?? 0 });
      });
      for (const id of this.items.keys()) if (!seen.has(id)) this.items.delete(id);
      this.loaded = true;
      this.lastRefreshAt = Date.now();
    } catch (e) {
      this.log.debug({ event: 'stock_refresh_failed', err: (e as Error).message }, 'Stock refresh failed');
    }
  }

  /**
   * Units left of an item: its stock key, or, for an item split into stock buckets (meta `buckets` > 1,
   * common/src/buckets.ts), the sum over every bucket, so an empty home bucket never reads as sold out.
   */
  private async remainingOf(item: string, stock: string | null, buckets: string | null): Promise<number> {
    const k = Number(buckets ?? 1);
    if (!Number.isInteger(k) || k <= 1) return Number(stock ?? 0);
    return (await bucketLevels(this.redis, this.sale, item, k)).reduce((n, x) => n + x, 0);
  }

  private onStockEvent(text: string): void {
    let ev: { event?: string; item_id?: unknown; remaining?: unknown };
    try {
      ev = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof ev.item_id !== 'string') return;
    const item = ev.item_id;
    const now = Date.now();
    const prev = this.items.get(item) ?? { remaining: 0, perUserLimit: 0, eventAt: 0 };
    if (ev.event === 'sold_out' || (ev.event === undefined && Number(ev.remaining) <= 0)) {
      this.items.set(item, { ...prev, remaining: 0, eventAt: now });
      this.log.info({ event: 'item_sold_out', item_id: item }, 'Item sold out: refusing orders locally');
    } else {
      // Stock returned (released or expired holds, restock): allow orders again, then read the exact level.
      const units = Number(ev.remaining);
      this.items.set(item, {
        ...prev,
        remaining: Math.max(prev.remaining, 0) + (Number.isFinite(units) && units > 0 ? units : 1),
        eventAt: now,
      });
      const k = itemKeys(this.sale, item);
      Promise.all([this.redis.get(k.stock), this.redis.hget(k.meta, 'buckets')])
        .then(([v, buckets]) => (v === null ? null : this.remainingOf(item, v, buckets)))
        .then((v) => {
          const s = this.items.get(item);
          if (s && v !== null && s.eventAt === now) s.remaining = v;
        })
        .catch(() => {});
    }
  }

  // --- order status events (for SSE) ---

  /** Listen for status changes of one order; resolves once the subscription is active. */
  async watchStatus(orderId: string, fn: StatusListener): Promise<() => void> {
    let set = this.statusListeners.get(orderId);
    if (!set) {
      set = new Set();
      this.statusListeners.set(orderId, set);
    }
    set.add(fn);
    if (!this.statusSubscribed) {
      const p = this.sub.subscribe(channels(this.sale).status);
      this.statusSubscribed = p;
      p.catch(() => {
        if (this.statusSubscribed === p) this.statusSubscribed = undefined;
      });
    }
    let t: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.statusSubscribed,
        new Promise((_, reject) => {
          t = setTimeout(
            () => reject(new Error('Command timed out: subscribing to order status events')),
            this.subscribeTimeoutMs,
          );
        }),
      ]);
    } catch (e) {
      set.delete(fn);
      if (set.size === 0) this.statusListeners.delete(orderId);
      throw e;
    } finally {
      clearTimeout(t);
    }
    return () => {
      const s = this.statusListeners.get(orderId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.statusListeners.delete(orderId);
      if (this.statusListeners.size === 0 && this.statusSubscribed && !this.stopped) {
        // Nobody listens: stop receiving every order's status changes.
        this.statusSubscribed = undefined;
        this.sub.unsubscribe(channels(this.sale).status).catch(() => {});
      }
    };
  }

  get watchers(): number {
    let n = 0;
    for (const s of this.statusListeners.values()) n += s.size;
    return n;
  }

  private onStatusEvent(text: string): void {
    let ev: { order_id?: unknown; status?: unknown };
    try {
      ev = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof ev.order_id !== 'string' || typeof ev.status !== 'string') return;
    const set = this.statusListeners.get(ev.order_id);
    if (!set) return;
    for (const fn of [...set]) fn(ev.status);
  }
}
