/** A counting semaphore with a FIFO of waiters: it bounds the payments in flight across all partitions. */
export class Semaphore {
  private free: number;
  /** FIFO of waiters; `head` avoids Array#shift, which is O(n) on the long queues a big batch builds */
  private waiters: (() => void)[] = [];
  private head = 0;
  /** callers of queueAtMost() still waiting */
  private drains: { n: number; resolve: () => void }[] = [];
  constructor(n: number) {
    this.free = n;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.waiters.length - this.head;
  }

  /** Resolves once at most `n` callers wait for a slot. */
  queueAtMost(n: number): Promise<void> {
    if (this.queued <= n) return Promise.resolve();
    return new Promise((resolve) => this.drains.push({ n, resolve }));
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiters.push(r));
    try {
      return await fn();
    } finally {
      if (this.head < this.waiters.length) {
        const next = this.waiters[this.head++]!;
        if (this.head > 1024 && this.head * 2 > this.waiters.length) {
          this.waiters = this.waiters.slice(this.head);
          this.head = 0;
        }
        next();
        if (this.drains.length > 0) this.wakeDrains();
      } else {
        this.free++;
      }
    }
  }

  private wakeDrains(): void {
    const q = this.queued;
    this.drains = this.drains.filter((d) => {
      if (q > d.n) return true;
      d.resolve();
      return false;
    });
  }
}
