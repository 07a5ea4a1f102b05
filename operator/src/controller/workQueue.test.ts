import { describe, expect, it } from 'vitest';
import { WorkQueue } from './workQueue.ts';

describe('WorkQueue', () => {
  it('de-duplicates waiting keys and never hands out a key twice at once', async () => {
    const q = new WorkQueue({ baseMs: 10, maxMs: 100 });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.length).toBe(2);
    const k1 = await q.get();
    expect(k1).toBe('a');
    q.add('a'); // while processing: remembered, not queued
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('b');
    q.done('a'); // re-queued now
    expect(await q.get()).toBe('a');
    q.done('a');
    q.done('b');
    q.shutDown();
    expect(await q.get()).toBeUndefined();
  });

  it('backs off exponentially per key and forgets on success', () => {
    const q = new WorkQueue({ baseMs: 100, maxMs: 1000 });
    const d = [
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
      q.addRateLimited('k'),
    ];
    expect(d[0]).toBeGreaterThanOrEqual(80);
    expect(d[0]).toBeLessThanOrEqual(120);
    expect(d[2]).toBeGreaterThanOrEqual(320);
    expect(d[4]).toBeLessThanOrEqual(1200);
    expect(q.numRequeues('k')).toBe(5);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    q.shutDown();
  });

  it('delayed adds: the earliest wins', async () => {
    const q = new WorkQueue();
    q.addAfter('x', 5000);
    q.addAfter('x', 20);
    const t0 = Date.now();
    expect(await q.get()).toBe('x');
    expect(Date.now() - t0).toBeLessThan(1000);
    q.shutDown();
  });
});
