import type { PartitionLag } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { HandledHorizon } from './handled-horizon.ts';

/** A reading: [committed, high] per partition 0..n-1. */
const reading = (...parts: [number, number][]): PartitionLag[] =>
  parts.map(([committed, high], partition) => ({ partition, low: 0, high, committed, lag: high - committed }));

describe('the handled horizon', () => {
  it('is unknown until proven: a lagging group at start proves nothing', () => {
    const h = new HandledHorizon();
    expect(h.observe(1000, reading([0, 5], [3, 3]))).toBe(Number.NEGATIVE_INFINITY);
    expect(h.value).toBe(Number.NEGATIVE_INFINITY);
  });

  it('moves to the time of a reading at lag 0', () => {
    const h = new HandledHorizon();
    expect(h.observe(1000, reading([5, 5], [3, 3]))).toBe(1000);
  });

  it("moves to a snapshot's time once the committed offsets pass its ends on every partition, never back", () => {
    const h = new HandledHorizon();
    h.observe(1000, reading([0, 10], [0, 4])); // ends 10, 4
    h.observe(2000, reading([10, 20], [2, 8])); // partition 1 still behind 4: nothing proven
    expect(h.value).toBe(Number.NEGATIVE_INFINITY);
    expect(h.observe(3000, reading([15, 30], [4, 9]))).toBe(1000); // passes the 1000 snapshot, not the 2000 one
    expect(h.observe(4000, reading([30, 40], [9, 12]))).toBe(3000); // the newest passed (3000) proves 2000 too
    // a later reading that passes nothing keeps the horizon
    expect(h.observe(5000, reading([30, 50], [9, 15]))).toBe(3000);
  });

  it('a group that keeps up under a steady stream (never at lag 0) still moves it', () => {
    const h = new HandledHorizon();
    let written = 0;
    let horizon = Number.NEGATIVE_INFINITY;
    for (let t = 1; t <= 10; t++) {
      written += 100;
      // the group is always 30 messages behind the end
      horizon = h.observe(t * 1000, reading([written - 30, written]));
    }
    expect(horizon).toBe(9000);
  });
});
