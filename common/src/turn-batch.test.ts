import { describe, expect, it } from 'vitest';
import { answerWaiters, TurnBatch, type Waiter, waitInBatch } from './turn-batch.ts';

describe('TurnBatch', () => {
  it('hands over the values of one turn per key, in order, and schedules once per turn', async () => {
    const flushed: [string, number[]][] = [];
    let schedules = 0;
    const batch = new TurnBatch<number>(
      (run) => {
        schedules++;
        setImmediate(run);
      },
      (key, values) => flushed.push([key, values]),
    );
    batch.add('a', 1);
    batch.add('b', 2);
    batch.add('a', 3);
    expect(flushed).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(flushed).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
    expect(schedules).toBe(1);
    batch.add('a', 4);
    await new Promise((r) => setImmediate(r));
    expect(flushed.at(-1)).toEqual(['a', [4]]);
    expect(schedules).toBe(2);
  });

  it('gives each waiter its own result of the shared call, and every waiter the call error', async () => {
    const calls: string[][] = [];
    let fail: 'no' | 'async' | 'sync' = 'no';
    const batch = new TurnBatch<Waiter<string, string>>(process.nextTick, (key, waiters) =>
      answerWaiters(waiters, (inputs) => {
        calls.push(inputs);
        if (fail === 'sync') throw new Error(`sync ${key}`);
        return fail === 'async'
          ? Promise.reject(new Error(`async ${key}`))
          : Promise.resolve(inputs.map((i) => `${key}:${i}`));
      }),
    );
    const got = await Promise.all([
      waitInBatch(batch, 'x', '1'),
      waitInBatch(batch, 'y', '2'),
      waitInBatch(batch, 'x', '3'),
    ]);
    expect(got).toEqual(['x:1', 'y:2', 'x:3']);
    expect(calls).toEqual([['1', '3'], ['2']]);
    for (const mode of ['async', 'sync'] as const) {
      fail = mode;
      const settled = await Promise.allSettled([waitInBatch(batch, 'x', '4'), waitInBatch(batch, 'x', '5')]);
      expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : 'ok'))).toEqual([
        `${mode} x`,
        `${mode} x`,
      ]);
    }
  });
});
