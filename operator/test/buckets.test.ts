/**
 * Hot-item stock buckets through the operator, on the real control plane (kwok) and the Redis Cluster: an item with
 * `stockBuckets: 4` is seeded over 4 bucket keys (other hash tags), a restock spreads over them and the status sums
 * them; a reduction beyond the unsold units is refused and reported; the API server refuses a change of
 * stockBuckets naming the field; an item that Redis already holds with
 * another bucket count is refused by the operator and reported (InventorySeeded/Ready False, reason
 * StockBucketsChangeRefused, the item named), without stopping the sale's other items.
 */
import {
  auditItemsOverBuckets,
  bucketCount,
  bucketKeys,
  bucketLevels,
  createRedis,
  parseAddrList,
  type RedisClient,
  reserveBucketed,
  seedItem,
  settleBucketed,
  shares,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  condition,
  deleteFlashSale,
  eventsWith,
  exampleSale,
  getJson,
  kubectl,
  type Manifest,
  tryKubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const cluster = inject('services').redisCluster;
if (!cluster) throw new Error('Redis Cluster (services.redisCluster) is missing: the harness did not start it');
const env = useTestOperator('op-bk');
let r: RedisClient;

beforeAll(async () => {
  r = createRedis({ mode: 'cluster', nodes: parseAddrList(cluster.addrs) });
});

afterAll(async () => {
  r?.disconnect();
});

const K = 4;
const onCluster = (name: string, mutate?: (m: Manifest) => void) =>
  exampleSale(name, env.ns, (m) => {
    m.spec.redis = { mode: 'cluster', addr: cluster.addrs };
    m.spec.deletionPolicy = 'Delete';
    m.spec.items[0].stockBuckets = K; // console-x, 500 units
    mutate?.(m);
  });
const statusItem = (fs: { status: { items: { id: string }[] } }, id: string) =>
  fs.status.items.find((i) => i.id === id) as { quantity: number; remaining: number; sold: number } | undefined;

describe('stock buckets through the operator', () => {
  const name = uniq('bk');
  let m: Manifest;

  it('seeds an item with stockBuckets 4 over 4 bucket keys; the status sums them', async () => {
    m = onCluster(name);
    await applyManifest(m);
    const fs = await waitReady(env.ns, name);
    expect(await bucketCount(r, name, 'console-x')).toBe(K);
    expect(await bucketLevels(r, name, 'console-x', K)).toEqual(shares(500, K));
    for (let b = 1; b < K; b++) expect(await r.get(bucketKeys(name, 'console-x', b).stock)).toBe('125');
    expect(statusItem(fs, 'console-x')).toMatchObject({ quantity: 500, remaining: 500, sold: 0 });
    // the items without stockBuckets stay plain (one key)
    expect(await bucketCount(r, name, 'headphones-pro')).toBe(1);
    expect(await r.exists(bucketKeys(name, 'headphones-pro', 1).stock)).toBe(0);
    const [audit] = await auditItemsOverBuckets(r, name, ['console-x']);
    expect(audit).toMatchObject({ initial: 500, remaining: 500, drift: 0 });
  });

  it('spreads a restock over the buckets', async () => {
    m.spec.items[0].quantity = 900;
    await applyManifest(m);
    const fs = await eventually('the restock in the status', async () => {
      const f = await getJson('flashsale', env.ns, name);
      return statusItem(f, 'console-x')?.quantity === 900 && f.status.observedGeneration === f.metadata.generation
        ? f
        : null;
    });
    expect(statusItem(fs, 'console-x')).toMatchObject({ remaining: 900 });
    const levels = await bucketLevels(r, name, 'console-x', K);
    expect(levels.reduce((a, b) => a + b, 0)).toBe(900);
    for (const l of levels) expect(l).toBeGreaterThan(125); // every bucket got part of the 400 units
    const [audit] = await auditItemsOverBuckets(r, name, ['console-x']);
    expect(audit).toMatchObject({ initial: 900, remaining: 900, drift: 0 });
  });

  it('a reduction beyond the unsold units is refused and reported; a possible one spreads', async () => {
    for (const [i, orderId] of ['o-1', 'o-2'].entries()) {
      const o = { orderId, itemId: 'console-x', userId: `u${i}`, quantity: 1, correlationId: 'c', requestId: 'q' };
      expect((await reserveBucketed(r, name, o, 600_000, K)).status).toBe('RESERVED');
      await settleBucketed(r, name, 'console-x', orderId, 'CONFIRMED', 'paid', K);
    }
    m.spec.items[0].quantity = 1; // 898 unsold: cannot come down to 1 without taking sold units back
    await applyManifest(m);
    const fs = await eventually('the refused reduction in the status', async () => {
      const f = await getJson('flashsale', env.ns, name);
      return condition(f, 'InventorySeeded')?.reason === 'ReductionRefused' ? f : null;
    });
    expect(condition(fs, 'InventorySeeded')?.message).toMatch(/^spec\.items\[console-x\]\.quantity: /);
    expect(condition(fs, 'Ready')).toMatchObject({ status: 'False', reason: 'ReductionRefused' });
    expect((await auditItemsOverBuckets(r, name, ['console-x']))[0]).toMatchObject({ initial: 900, remaining: 898 });
    m.spec.items[0].quantity = 700;
    await applyManifest(m);
    const ok = await waitReady(env.ns, name);
    expect(statusItem(ok, 'console-x')).toMatchObject({ quantity: 700, remaining: 698, sold: 2 });
    const levels = await bucketLevels(r, name, 'console-x', K);
    expect(levels.reduce((a, b) => a + b, 0)).toBe(698);
    expect((await auditItemsOverBuckets(r, name, ['console-x']))[0]).toMatchObject({ initial: 700, drift: 0 });
  });

  it('refuses a change of stockBuckets at the API server, naming the field', async () => {
    const patch = JSON.stringify([{ op: 'replace', path: '/spec/items/0/stockBuckets', value: 8 }]);
    const res = await tryKubectl(['-n', env.ns, 'patch', 'flashsale', name, '--type=json', '-p', patch]);
    expect(res.ok).toBe(false);
    expect(res.out).toMatch(/stockBuckets/);
    expect(res.out).toMatch(/cannot be changed/);
    // dropping the field defaults it to 1: a change too
    const drop = JSON.stringify([{ op: 'remove', path: '/spec/items/0/stockBuckets' }]);
    expect((await tryKubectl(['-n', env.ns, 'patch', 'flashsale', name, '--type=json', '-p', drop])).ok).toBe(false);
    // a new item may choose its K
    const add = JSON.stringify([
      { op: 'add', path: '/spec/items/-', value: { id: 'new-hot', quantity: 40, stockBuckets: 2 } },
    ]);
    await kubectl(['-n', env.ns, 'patch', 'flashsale', name, '--type=json', '-p', add]);
    await eventually('the new item seeded over 2 buckets', async () => (await bucketCount(r, name, 'new-hot')) === 2);
    expect(await bucketLevels(r, name, 'new-hot', 2)).toEqual([20, 20]);
  });

  it('reports an item Redis holds with another bucket count (Ready=False, item named) and seeds the others', async () => {
    const other = uniq('bk');
    // a sale deleted with Retain and applied again with another K: Redis still holds console-x in one bucket
    await seedItem(r, other, 'console-x', 500, 1);
    await applyManifest(onCluster(other));
    // in InventorySeeded and in Ready (which names a dependency error first, e.g. a Kafka call timing out on a busy
    // machine, until a later reconcile gets through)
    const fs = await eventually('the refusal in the status', async () => {
      const f = await getJson('flashsale', env.ns, other);
      const refused = (t: string) => condition(f, t)?.reason === 'StockBucketsChangeRefused';
      return refused('InventorySeeded') && refused('Ready') ? f : null;
    });
    const seeded = condition(fs, 'InventorySeeded');
    expect(seeded?.status).toBe('False');
    expect(seeded?.message).toMatch(
      /^spec\.items\[console-x\]\.stockBuckets: .*seeded over 1 stock bucket\(s\), not 4/,
    );
    expect(condition(fs, 'Ready')).toMatchObject({ status: 'False', reason: 'StockBucketsChangeRefused' });
    expect(condition(fs, 'Degraded')).toMatchObject({ status: 'True', reason: 'StockBucketsChangeRefused' });
    // the refused item is left as it was; the other items are seeded
    expect(await bucketCount(r, other, 'console-x')).toBe(1);
    expect(await r.exists(bucketKeys(other, 'console-x', 1).stock)).toBe(0);
    const [phones] = await auditItemsOverBuckets(r, other, ['headphones-pro']);
    expect(phones).toMatchObject({ initial: 2000, remaining: 2000 });
    expect((await eventsWith(env.ns, other, ['StockBucketsChangeRefused'])).map((e) => e.reason)).toContain(
      'StockBucketsChangeRefused',
    );
    // the operator keeps reconciling other sales: the first one is still Ready
    await waitReady(env.ns, name);
    await deleteFlashSale(env.ns, other);
  });
});
