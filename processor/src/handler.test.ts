import { describe, expect, it } from 'vitest';
import { isTransientRedisError, Semaphore } from './handler.ts';

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

describe('isTransientRedisError', () => {
  it('treats script errors as permanent and connection trouble as transient', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(isTransientRedisError(reply('ERR quantity must be a positive integer'))).toBe(false);
    expect(isTransientRedisError(reply('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isTransientRedisError(reply('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isTransientRedisError(new Error('Connection is closed.'))).toBe(true);
  });
});
