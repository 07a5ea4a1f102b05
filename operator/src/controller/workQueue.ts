/**
 * A controller-runtime-like work queue of keys: de-duplicated (a key waiting once is enough), one worker per key
 * at a time (a key added while processing is re-queued when done), delayed adds, per-key exponential backoff.
 */
export interface QueueMetrics {
  depth(n: number): void;
  add(): void;
  retry(): void;
}

export interface BackoffConfig {
  baseMs: number;
  maxMs: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private readonly backoff: BackoffConfig;
  private readonly metrics: QueueMetrics | undefined;
  private shuttingDown = false;

  constructor(backoff: BackoffConfig = { baseMs: 500, maxMs: 300_000 }, metrics?: QueueMetrics) {
    this.backoff = backoff;
    this.metrics = metrics;
  }

  get length(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.metrics?.add();
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const w = this.waiters.shift();
    if (w) w(key);
    else {
      this.queue.push(key);
      this.metrics?.depth(this.queue.length);
    }
  }

  /** Add after `ms`; an earlier pending delayed add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const cur = this.delayed.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  /** Requeue with per-key exponential backoff (with jitter). */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const base = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** n);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.metrics?.retry();
    this.addAfter(key, delay);
    return delay;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Next key to process (undefined after shutdown). */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.metrics?.depth(this.queue.length);
      this.processing.add(key);
      this.dirty.delete(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => {
      this.waiters.push((k) => {
        if (k !== undefined) {
          this.processing.add(k);
          this.dirty.delete(k);
        }
        resolve(k);
      });
    });
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
