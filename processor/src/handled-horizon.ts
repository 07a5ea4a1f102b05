/**
 * The handled horizon: the latest time T such that every message written to the orders topic before T has been
 * handled by the processor group (its committed offsets have passed the topic's end offsets read at T). The stuck-order
 * sweeper re-sends or finalizes an order only when its message, had it been written, is behind this horizon: a backlog
 * (processors down or slow, payments hanging) is not mistaken for lost messages, so it is never sent twice.
 *
 * Each reading of the group's offsets is kept as a snapshot of the end offsets at its time; a later reading whose
 * committed offsets reach a snapshot's ends on every partition moves the horizon to that snapshot's time. A group at
 * lag 0 moves it to the reading's own time. A process starts with no horizon: nothing is proven before its first
 * readings, so a processor that just started never re-sends on a guess.
 */
import type { PartitionLag } from '@flashsale/common';

interface Snapshot {
  at: number;
  ends: Map<number, number>;
}

/** Snapshots kept at most (one per sweep interval): a bound on memory while the group lags for a long time. */
const MAX_SNAPSHOTS = 256;

export class HandledHorizon {
  private snapshots: Snapshot[] = [];
  private horizon = Number.NEGATIVE_INFINITY;

  /** Every message written before this time (ms) has been handled; -Infinity until proven. */
  get value(): number {
    return this.horizon;
  }

  /** One reading of the group's offsets, `at` taken before the offsets were read. Returns the horizon. */
  observe(at: number, parts: PartitionLag[]): number {
    const committed = new Map(parts.map((p) => [p.partition, p.committed]));
    const passed = (s: Snapshot) => [...s.ends].every(([p, end]) => (committed.get(p) ?? 0) >= end);
    // newest first: the newest snapshot passed proves every older one
    for (let i = this.snapshots.length - 1; i >= 0; i--) {
      if (passed(this.snapshots[i]!)) {
        this.horizon = Math.max(this.horizon, this.snapshots[i]!.at);
        this.snapshots = this.snapshots.slice(i + 1);
        break;
      }
    }
    if (parts.every((p) => p.lag === 0)) {
      this.horizon = Math.max(this.horizon, at);
      this.snapshots = [];
    } else {
      this.snapshots.push({ at, ends: new Map(parts.map((p) => [p.partition, p.high])) });
      if (this.snapshots.length > MAX_SNAPSHOTS) this.snapshots.shift();
    }
    return this.horizon;
  }
}
