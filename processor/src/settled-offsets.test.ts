import { describe, expect, it } from 'vitest';
import { type PartitionOffset, SettledOffsets } from './settled-offsets.ts';

/** A promise settled from outside: a batch's settle stage. */
function settle() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

function tracker() {
  const commits: PartitionOffset[][] = [];
  const rewinds: [number, string][] = [];
  const gaps: [number, string, string][] = [];
  let gate: Promise<void> = Promise.resolve();
  const o = new SettledOffsets({
    commit: async (offsets) => {
      commits.push(offsets);
      await gate;
    },
    rewind: (partition, offset) => rewinds.push([partition, offset]),
    gap: (partition, expected, first) => gaps.push([partition, expected, first]),
  });
  return {
    o,
    commits,
    rewinds,
    gaps,
    hold(p: Promise<void>) {
      gate = p;
    },
  };
}

describe('SettledOffsets', () => {
  it('commits a partition only up to its first unsettled batch, in offset order', async () => {
    const { o, commits } = tracker();
    const a = settle();
    const b = settle();
    o.add(0, '0', '9', a.promise, o.generation);
    o.add(0, '10', '19', b.promise, o.generation);
    b.resolve();
    await tick();
    expect(commits).toEqual([]);
    a.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 0, offset: '20' }]]);
  });

  it('keeps partitions apart', async () => {
    const { o, commits } = tracker();
    const a = settle();
    const b = settle();
    o.add(0, '0', '9', a.promise, o.generation);
    o.add(1, '100', '104', b.promise, o.generation);
    b.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 1, offset: '105' }]]);
  });

  it('sends one commit at a time, the next one with every offset settled meanwhile', async () => {
    const { o, commits, hold } = tracker();
    const slow = settle();
    hold(slow.promise);
    const [a, b, c] = [settle(), settle(), settle()];
    o.add(0, '0', '9', a.promise, o.generation);
    o.add(0, '10', '19', b.promise, o.generation);
    o.add(1, '0', '4', c.promise, o.generation);
    a.resolve();
    await tick();
    b.resolve();
    c.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 0, offset: '10' }]]);
    hold(Promise.resolve());
    slow.resolve();
    await tick();
    await tick();
    expect(commits).toEqual([
      [{ partition: 0, offset: '10' }],
      [
        { partition: 0, offset: '20' },
        { partition: 1, offset: '5' },
      ],
    ]);
  });

  it('rewinds to a batch that failed to settle, and never commits past it before it is read again', async () => {
    const { o, commits, rewinds } = tracker();
    const [a, b, c] = [settle(), settle(), settle()];
    o.add(0, '0', '9', a.promise, o.generation);
    o.add(0, '10', '19', b.promise, o.generation);
    o.add(0, '20', '29', c.promise, o.generation);
    b.reject(new Error('dead letters not written'));
    c.resolve();
    a.resolve();
    await tick();
    expect(rewinds).toEqual([[0, '10']]);
    expect(commits).toEqual([[{ partition: 0, offset: '10' }]]);
    // read again from 10
    const again = settle();
    o.add(0, '10', '29', again.promise, o.generation);
    again.resolve();
    await tick();
    expect(commits.at(-1)).toEqual([{ partition: 0, offset: '30' }]);
  });

  it('never commits past a gap in the offsets, and says so', async () => {
    const { o, commits, gaps } = tracker();
    const [a, b] = [settle(), settle()];
    o.add(0, '0', '9', a.promise, o.generation);
    o.add(0, '15', '19', b.promise, o.generation);
    expect(gaps).toEqual([[0, '10', '15']]);
    a.resolve();
    b.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 0, offset: '10' }]]);
  });

  it('a batch handed before a rejoin moves no offset; the partition starts again from the first batch read after', async () => {
    const { o, commits } = tracker();
    const old = settle();
    const gen = o.generation;
    o.add(0, '50', '59', old.promise, gen);
    o.reset();
    const late = settle();
    o.add(0, '60', '69', late.promise, gen); // handed before the rejoin, its reserves answered after it
    old.resolve();
    late.resolve();
    await tick();
    expect(commits).toEqual([]);
    const fresh = settle();
    o.add(0, '40', '49', fresh.promise, o.generation);
    fresh.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 0, offset: '50' }]]);
  });

  it('a batch read again from below where the partition stood starts it afresh from there', async () => {
    const { o, commits } = tracker();
    const [a, again] = [settle(), settle()];
    o.add(0, '100', '109', a.promise, o.generation);
    o.add(0, '95', '104', again.promise, o.generation);
    a.resolve();
    await tick();
    expect(commits).toEqual([]);
    again.resolve();
    await tick();
    expect(commits).toEqual([[{ partition: 0, offset: '105' }]]);
  });

  it('drain waits for every batch handed in, of any generation, and for its commit', async () => {
    const { o, commits } = tracker();
    const [a, b] = [settle(), settle()];
    o.add(0, '0', '9', a.promise, o.generation);
    o.reset();
    o.add(1, '0', '9', b.promise, o.generation);
    let drained = false;
    const d = o.drain().then(() => {
      drained = true;
    });
    a.resolve();
    await tick();
    expect(drained).toBe(false);
    b.resolve();
    await d;
    expect(drained).toBe(true);
    expect(commits).toEqual([[{ partition: 1, offset: '10' }]]);
    await o.drain(); // idle: at once
  });
});
