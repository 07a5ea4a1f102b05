import { describe, expect, it } from 'vitest';
import { Semaphore } from './semaphore.ts';

describe('Semaphore', () => {
  it('never runs more than n at once and serves waiters in order', async () => {
    const s = new Semaphore(3);
    let running = 0;
    let max = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 5000 }, (_, i) =>
        s.run(async () => {
          running++;
          max = Math.max(max, running);
          order.push(i);
          await Promise.resolve();
          running--;
        }),
      ),
    );
    expect(max).toBe(3);
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('queueAtMost resolves once at most n callers wait for a slot', async () => {
    const s = new Semaphore(1);
    const gates: (() => void)[] = [];
    const runs = Array.from({ length: 4 }, () => s.run(() => new Promise<void>((r) => gates.push(r))));
    await Promise.resolve();
    expect(s.queued).toBe(3);
    let atMostOne = false;
    const waiting = s.queueAtMost(1).then(() => {
      atMostOne = true;
    });
    await s.queueAtMost(3); // already true
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(s.queued).toBe(2);
    expect(atMostOne).toBe(false);
    gates.shift()!();
    await waiting;
    expect(s.queued).toBe(1);
    while (gates.length > 0 || s.queued > 0) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(runs);
  });
});
