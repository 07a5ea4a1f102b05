import { describe, expect, it } from 'vitest';
import { isTransientRedisError, RetryRound } from './retry-policy.ts';

describe('isTransientRedisError', () => {
  it('treats script errors as permanent and connection trouble as transient', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(isTransientRedisError(reply('ERR quantity must be a positive integer'))).toBe(false);
    expect(isTransientRedisError(reply('LOADING Redis is loading the dataset in memory'))).toBe(true);
    expect(isTransientRedisError(reply('CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isTransientRedisError(new Error('Connection is closed.'))).toBe(true);
  });
});

describe('RetryRound', () => {
  const cfg = { attempts: 3, baseMs: 1, maxMs: 4 };
  it('defers transient failures while rounds are left, never permanent ones', () => {
    const first = new RetryRound<string>(cfg, 1);
    expect(first.defer('a', new Error('Connection is closed.'))).toBe(true);
    expect(first.defer('b', Object.assign(new Error('ERR bad'), { name: 'ReplyError' }))).toBe(false);
    expect(first.again).toEqual(['a']);
    const last = new RetryRound<string>(cfg, 3);
    expect(last.defer('a', new Error('Connection is closed.'))).toBe(false);
  });
});
