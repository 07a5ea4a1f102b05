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
});
