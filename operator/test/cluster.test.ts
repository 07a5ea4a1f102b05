/**
 * A sale on Redis Cluster: the operator seeds every item (each item's keys share one hash slot), reports the counts,
 * and with deletionPolicy Delete removes the sale's keys from every master.
 */
import { auditItem, createRedis, itemKeys, parseAddrList, type RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import { applyManifest, exampleSale, getJson, kubectl, uniq, useTestOperator, waitReady } from './support.ts';

const cluster = inject('services').redisCluster;
if (!cluster) throw new Error('Redis Cluster (services.redisCluster) is missing: the harness did not start it');
const env = useTestOperator('op-rc');
let r: RedisClient;

beforeAll(async () => {
  r = createRedis({ mode: 'cluster', nodes: parseAddrList(cluster.addrs) });
});

afterAll(async () => {
  r?.disconnect();
});

describe('Redis Cluster', () => {
  it('seeds, reports and deletes a sale across the cluster', async () => {
    const name = uniq('rc');
    const m = exampleSale(name, env.ns, (x) => {
      x.spec.redis = { mode: 'cluster', addr: cluster.addrs };
      x.spec.deletionPolicy = 'Delete';
    });
    await applyManifest(m);
    const fs = await waitReady(env.ns, name);
    expect(fs.status.totalQuantity).toBe(12500);
    for (const it of m.spec.items as { id: string; quantity: number }[]) {
      expect(await auditItem(r, name, it.id)).toMatchObject({ initial: it.quantity, remaining: it.quantity, drift: 0 });
    }
    await kubectl(['-n', env.ns, 'delete', 'flashsale', name, '--wait=false']);
    await eventually(
      'the FlashSale to be gone',
      async () => (await getJson('flashsale', env.ns, name)) === null,
      30_000,
    );
    for (const it of m.spec.items as { id: string }[]) expect(await r.exists(itemKeys(name, it.id).meta)).toBe(0);
  });
});
