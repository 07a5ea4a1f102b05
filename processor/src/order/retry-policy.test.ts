import { createLogger } from '@flashsale/common';
import { describe, expect, it } from 'vitest';
import { isTransientRedisError, RetryRound, withRedisRetry } from './retry-policy.ts';

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

describe('withRedisRetry', () => {
  const cfg = { attempts: 3, baseMs: 1, maxMs: 4 };
  const log = createLogger('processor', 'error');
  const closed = () => new Error('Connection is closed.');
  /** a call that fails with `errors` in turn, then answers `ok`; counts its tries */
  const flaky = (errors: (() => Error)[]) => {
    const f = { tries: 0, fn: async () => (f.tries++ < errors.length ? Promise.reject(errors[f.tries - 1]!()) : 'ok') };
    return f;
  };

  it('answers at once, retries transient errors within the attempts, and throws the last one after them', async () => {
    const once = flaky([]);
    await expect(withRedisRetry(cfg, log, 't', once.fn)).resolves.toBe('ok');
    expect(once.tries).toBe(1);
    const twice = flaky([closed, closed]);
    await expect(withRedisRetry(cfg, log, 't', twice.fn)).resolves.toBe('ok');
    expect(twice.tries).toBe(3);
    const never = flaky([closed, closed, () => new Error('third')]);
    await expect(withRedisRetry(cfg, log, 't', never.fn)).rejects.toThrow('third');
    expect(never.tries).toBe(3);
  });

  it('throws a permanent error at once, a synchronous throw included', async () => {
    const script = flaky([() => Object.assign(new Error('ERR bad'), { name: 'ReplyError' })]);
    await expect(withRedisRetry(cfg, log, 't', script.fn)).rejects.toThrow('ERR bad');
    expect(script.tries).toBe(1);
    let thrown = 0;
    await expect(
      withRedisRetry(cfg, log, 't', () => {
        thrown++;
        throw Object.assign(new Error('ERR thrown'), { name: 'ReplyError' });
      }),
    ).rejects.toThrow('ERR thrown');
    expect(thrown).toBe(1);
  });
});
