import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';

describe('redis (real redis-server)', () => {
  const { host, port } = requireService('redis');
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1 });
  const key = `t-${randomUUID().slice(0, 8)}:counter`;
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('is Redis 7 and runs a Lua script with EVAL', async () => {
    const info = await redis.info('server');
    expect(info).toMatch(/redis_version:7\./);
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCRBY', KEYS[1], ARGV[2])";
    expect(await redis.eval(script, 1, key, '40', '2')).toBe(42);
    expect(await redis.get(key)).toBe('42');
  });
});
