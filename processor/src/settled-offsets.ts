/**
 * Offsets committed behind the settles. A partition's next batch starts as soon as the previous one's reserves have
 * answered (its holds are in Redis), while that batch's payments, confirms and dead letters finish behind it; an
 * offset is committed only once every batch up to it has settled, in offset order. So a slow or hanging payment no
 * longer holds its partition (and, as kafkajs fetches a broker's partitions together, every partition of that broker)
 * for the payment timeout, and the guarantee stays what it was: everything below a committed offset is final.
 *
 * Kafka-agnostic: the consumer (./consumer.ts) hands batches in and gives the commit and the rewind.
 */

export interface PartitionOffset {
  partition: number;
  /** the next offset to read: the last settled one + 1 */
  offset: string;
}

export interface SettledOffsetsOptions {
  /** commit these offsets (one request); a failure is retried with the next commit */
  commit(offsets: PartitionOffset[]): Promise<void>;
  /**
   * a batch's settle failed (e.g. its dead letters could not be written): read the partition again from `offset`,
   * which the redelivered orders' dedupe markers make safe
   */
  rewind(partition: number, offset: string, error: unknown): void;
  /** a batch started above the partition's next offset: nothing is committed past `expected` until a rejoin */
  gap(partition: number, expected: string, first: string): void;
}

interface Batch {
  first: number;
  last: number;
  settled: boolean;
}

interface Partition {
  /** batches handed in, in offset order, not yet committed */
  batches: Batch[];
  /** the first offset not yet known settled */
  next: number;
  /** `next` moved since the last commit was sent */
  dirty: boolean;
}

export class SettledOffsets {
  private readonly o: SettledOffsetsOptions;
  private partitions = new Map<number, Partition>();
  /** bumped by reset(): a batch handed to the handler before a rejoin never moves an offset */
  private gen = 0;
  /** batches handed in and not settled yet (all generations) */
  private settling = 0;
  private idleWaiters: (() => void)[] = [];
  private committing: Promise<void> | undefined;

  constructor(o: SettledOffsetsOptions) {
    this.o = o;
  }

  /** The generation to pass to add() for a batch handed to the handler now. */
  get generation(): number {
    return this.gen;
  }

  /**
   * A batch of `partition` whose reserves answered (offsets `first`..`last`), handed to the handler
   * in generation `gen`; its offsets commit once `settled` resolves and every earlier batch of the partition has
   * settled. Batches of one partition come in offset order. The first batch after a reset starts the partition (it
   * is read from the committed offset); one that starts below the expected offset (read again) starts it afresh from
   * there; one above it leaves a gap the committed offset never passes.
   */
  add(partition: number, first: string, last: string, settled: Promise<void>, gen: number): void {
    const b: Batch = { first: Number(first), last: Number(last), settled: false };
    this.settling++;
    let owner: Partition | undefined;
    if (gen === this.gen) {
      let p = this.partitions.get(partition);
      const expected = p ? (p.batches.at(-1)?.last ?? p.next - 1) + 1 : b.first;
      if (!p || b.first < expected) {
        p = { batches: [], next: Math.min(b.first, p?.next ?? b.first), dirty: false };
        this.partitions.set(partition, p);
      } else if (b.first > expected) this.o.gap(partition, String(expected), first);
      p.batches.push(b);
      owner = p;
    }
    const current = () => owner !== undefined && this.partitions.get(partition) === owner;
    settled.then(
      () => {
        this.settling--;
        b.settled = true;
        if (current()) this.advance(owner!);
        else this.checkIdle();
      },
      (e) => {
        this.settling--;
        if (current()) {
          // this batch and every later one are read again from its first offset; the later ones' settles still
          // finish (their effects are idempotent per order) but no longer move the committed offset
          const i = owner!.batches.indexOf(b);
          if (i >= 0) owner!.batches.length = i;
          this.o.rewind(partition, String(b.first), e);
        }
        this.checkIdle();
      },
    );
  }

  /** The group was joined again (kafkajs reads from the committed offsets): earlier batches no longer commit. */
  reset(): void {
    this.gen++;
    this.partitions = new Map();
    this.checkIdle();
  }

  /** Resolves when every batch handed in has settled and its offsets are committed (or their commit failed). */
  drain(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private idle(): boolean {
    if (this.settling > 0 || this.committing) return false;
    for (const p of this.partitions.values()) if (p.dirty) return false;
    return true;
  }

  private checkIdle(): void {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private advance(p: Partition): void {
    for (let head = p.batches[0]; head?.settled && head.first <= p.next; head = p.batches[0]) {
      p.next = Math.max(p.next, head.last + 1);
      p.batches.shift();
      p.dirty = true;
    }
    if (p.dirty) this.flush();
    else this.checkIdle();
  }

  /** One commit request at a time, carrying every partition's latest settled offset. */
  private flush(): void {
    if (this.committing) return;
    const offsets: PartitionOffset[] = [];
    for (const [partition, p] of this.partitions) {
      if (!p.dirty) continue;
      p.dirty = false;
      offsets.push({ partition, offset: String(p.next) });
    }
    if (offsets.length === 0) {
      this.checkIdle();
      return;
    }
    // a failed commit is not retried on its own: the next settled batch carries a later offset of the partition
    this.committing = this.o
      .commit(offsets)
      .catch(() => {})
      .then(() => {
        this.committing = undefined;
        this.flush();
      });
  }
}
