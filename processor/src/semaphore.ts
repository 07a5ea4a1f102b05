/** A counting semaphore with a FIFO of waiters: it bounds the payments in flight across all partitions. */
export class Semaphore {
  private free: number;
  /** FIFO of waiters; `head` avoids Array#shift, which is O(n) on the long queues a big batch builds */
  private waiters: (() => void)[] = [];
  private head = 0;
  constructor(n: number) {
    this.free = n;
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
      } else {
        this.free++;
      }
    }
  }
}
