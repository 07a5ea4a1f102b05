import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';

describe('redis cluster (6 real nodes, 3 masters + 3 replicas)', () => {
  const { nodes } = requireService('redisCluster');
  const cluster = new Cluster(nodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
  const sale = `t-${randomUUID().slice(0, 8)}`;
  afterAll(() => cluster.disconnect());

  const script =
    "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[2])";

  it('is a healthy cluster of 3 masters', async () => {
    await cluster.connect();
    const info = await cluster.cluster('INFO');
    expect(String(info)).toContain('cluster_state:ok');
    expect(cluster.nodes('master')).toHaveLength(3);
  });

  it('runs a two-key script on one hash tag', async () => {
    const r = await cluster.eval(script, 2, `fs:{${sale}}:a`, `fs:{${sale}}:b`, 'v');
    expect(r).toBe('v');
    await cluster.del(`fs:{${sale}}:a`, `fs:{${sale}}:b`);
  });

  it('refuses a script over keys in two slots with CROSSSLOT', async () => {
    await expect(cluster.eval(script, 2, `fs:{${sale}:1}:a`, `fs:{${sale}:2}:b`, 'v')).rejects.toThrow(/CROSSSLOT/);
  });
});
