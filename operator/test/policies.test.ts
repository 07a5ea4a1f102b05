/**
 * Bad input and deletion policies on the real control plane: the API server refuses what the schema can say
 * (CEL rules), the operator reports the rest with Ready=False and a reason and keeps running; Retain keeps Redis
 * keys and topics; Delete with an unreachable Redis is retried and reported, and switching to Retain is the way out.
 */
import { auditItem, itemKeys, topics } from '@flashsale/common';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectStable } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  condition,
  exampleSale,
  getJson,
  kafkaAdmin,
  kubectl,
  redisClient,
  topicPartitions,
  tryKubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const env = useTestOperator('op-pol');
let admin: Admin;
const r = redisClient();

beforeAll(async () => {
  admin = await kafkaAdmin();
});

// useTestOperator releases the finalizers this file leaves behind (a Delete sale whose Redis is unreachable)
afterAll(async () => {
  await admin?.disconnect();
  r.disconnect();
});

describe('bad input', () => {
  it('is refused by the API server where the schema can say so (CEL and OpenAPI)', async () => {
    const name = uniq('bad');
    const m = exampleSale(name, env.ns, (x) => {
      x.spec.endsAt = x.spec.startsAt;
      x.spec.items.push({ id: 'console-x', quantity: 1 });
      x.spec.items[1].quantity = -5;
      x.spec.autoscaling.gateway.minReplicas = 20;
    });
    const res = await tryKubectl(['apply', '-f', '-'], JSON.stringify(m));
    expect(res.ok).toBe(false);
    expect(res.out).toMatch(/endsAt must be after startsAt/);
    expect(res.out).toMatch(/Duplicate value|item ids must be unique/);
    expect(res.out).toMatch(/greater than or equal to 0/);
    expect(res.out).toMatch(/maxReplicas must be >= minReplicas/);

    const ok = uniq('grow');
    await applyManifest(exampleSale(ok, env.ns, (x) => (x.spec.topics.partitions = 4)));
    const shrink = await tryKubectl(
      ['apply', '-f', '-'],
      JSON.stringify(exampleSale(ok, env.ns, (x) => (x.spec.topics.partitions = 2))),
    );
    expect(shrink.ok).toBe(false);
    expect(shrink.out).toMatch(/partitions may only grow/);
    await kubectl(['-n', env.ns, 'delete', 'flashsale', ok]);
  });

  it('an unreachable Redis gives Ready=False with a reason; the operator keeps working on other sales', async () => {
    const noRedis = uniq('nored');
    await applyManifest(exampleSale(noRedis, env.ns, (x) => (x.spec.redis.addr = '127.0.0.1:1')));
    const a = await eventually('InventorySeeded=False on the unreachable Redis', async () => {
      const fs = await getJson('flashsale', env.ns, noRedis);
      return condition(fs, 'InventorySeeded')?.reason === 'RedisUnavailable' ? fs : null;
    });
    expect(condition(a, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForDependencies' });
    expect(condition(a, 'Ready')?.message).toMatch(/127\.0\.0\.1:1/);
    expect(condition(a, 'Degraded')?.status).toBe('True');
    expect(a.status.phase).toBe('Pending');
    // the Kubernetes side is still applied, and other sales still converge
    expect(await getJson('deployment', env.ns, `${noRedis}-gateway`)).not.toBeNull();
    const fine = uniq('fine');
    await applyManifest(exampleSale(fine, env.ns));
    await waitReady(env.ns, fine);
    for (const n of [fine, noRedis]) await kubectl(['-n', env.ns, 'delete', 'flashsale', n]);
  });

  it('an unreachable Kafka gives TopicsReady=False reason KafkaUnavailable; fixing the address heals the sale', async () => {
    const noKafka = uniq('nokaf');
    await applyManifest(exampleSale(noKafka, env.ns, (x) => (x.spec.kafka.brokers = '127.0.0.1:2')));
    const fs = await eventually('TopicsReady=False', async () => {
      const f = await getJson('flashsale', env.ns, noKafka);
      return condition(f, 'TopicsReady')?.reason === 'KafkaUnavailable' ? f : null;
    });
    expect(condition(fs, 'TopicsReady')?.message).toMatch(/127\.0\.0\.1:2/);
    expect(condition(fs, 'Ready')?.status).toBe('False');
    expect(condition(fs, 'InventorySeeded')?.status).toBe('True');
    await applyManifest(exampleSale(noKafka, env.ns));
    await waitReady(env.ns, noKafka);
    await kubectl(['-n', env.ns, 'delete', 'flashsale', noKafka]);
  });

  it('a missing Secret gives Ready=False naming it; dropping the reference heals the sale', async () => {
    const noSecret = uniq('nosec');
    await applyManifest(
      exampleSale(noSecret, env.ns, (x) => (x.spec.redis.passwordSecretRef = { name: 'missing', key: 'password' })),
    );
    const b = await eventually('Ready=False on the missing Secret', async () => {
      const fs = await getJson('flashsale', env.ns, noSecret);
      return condition(fs, 'Ready')?.status === 'False' &&
        /missing\/password/.test(condition(fs, 'Ready')?.message ?? '')
        ? fs
        : null;
    });
    expect(condition(b, 'Ready')?.reason).toBe('WaitingForDependencies');
    await applyManifest(exampleSale(noSecret, env.ns));
    await waitReady(env.ns, noSecret);
    await kubectl(['-n', env.ns, 'delete', 'flashsale', noSecret]);
  });
});

describe('deletion policies', () => {
  it('Retain keeps Redis keys and topics; no finalizer is added', async () => {
    const name = uniq('keep');
    await applyManifest(exampleSale(name, env.ns));
    const fs = await waitReady(env.ns, name);
    expect(fs.metadata.finalizers ?? []).toEqual([]);
    await kubectl(['-n', env.ns, 'delete', 'flashsale', name]);
    expect(await getJson('flashsale', env.ns, name)).toBeNull();
    expect((await auditItem(r, name, 'console-x')).initial).toBe(500);
    expect(await topicPartitions(admin, topics(name).orders)).toBe(2);
    // clean up by hand what Retain kept
    await admin.deleteTopics({ topics: [topics(name).orders, topics(name).dlq] });
    for (const it of ['console-x', 'headphones-pro', 'gift-card-50']) {
      await r.del(itemKeys(name, it).stock, itemKeys(name, it).meta);
    }
  });

  it('Delete with Redis unreachable is retried and reported; switching to Retain lets it go', async () => {
    const name = uniq('stuck');
    const m = exampleSale(name, env.ns, (x) => {
      x.spec.redis.addr = '127.0.0.1:1';
      x.spec.deletionPolicy = 'Delete';
    });
    await applyManifest(m);
    await eventually('the finalizer', async () =>
      ((await getJson('flashsale', env.ns, name))?.metadata.finalizers ?? []).includes('flashsale.dev/cleanup'),
    );
    await kubectl(['-n', env.ns, 'delete', 'flashsale', name, '--wait=false']);
    const stuck = await eventually('Degraded=True reason CleanupFailed', async () => {
      const fs = await getJson('flashsale', env.ns, name);
      return condition(fs, 'Degraded')?.reason === 'CleanupFailed' ? fs : null;
    });
    expect(condition(stuck, 'Degraded')?.message).toMatch(/deletionPolicy=Retain/);
    expect(stuck.metadata.deletionTimestamp).toBeTruthy();
    await kubectl([
      '-n',
      env.ns,
      'patch',
      'flashsale',
      name,
      '--type=merge',
      '-p',
      '{"spec":{"deletionPolicy":"Retain"}}',
    ]);
    await eventually(
      'the FlashSale to be gone',
      async () => (await getJson('flashsale', env.ns, name)) === null,
      20_000,
    );
    expect(await env.op.metrics.count('error')).toBeGreaterThan(0);
  });
});

describe('a spec the API server accepts but the operator cannot run', () => {
  it('gets Ready=False reason InvalidSpec, phase Failed, a Warning event, and no retry loop', async () => {
    const name = uniq('inval');
    await applyManifest(
      exampleSale(name, env.ns, (x) => {
        x.spec.gateway.circuitBreaker.baseTimeout = '5m';
        x.spec.gateway.circuitBreaker.maxTimeout = '30s';
      }),
    );
    const fs = await eventually('Ready=False reason InvalidSpec', async () => {
      const f = await getJson('flashsale', env.ns, name);
      return condition(f, 'Ready')?.reason === 'InvalidSpec' ? f : null;
    });
    expect(fs.status.phase).toBe('Failed');
    expect(condition(fs, 'Ready')?.message).toMatch(/spec\.gateway\.circuitBreaker\.maxTimeout: must not be below/);
    expect(await getJson('deployment', env.ns, `${name}-gateway`)).toBeNull();
    // terminal: never put back on the queue with backoff (the periodic resync may still run it once, as
    // controller-runtime's SyncPeriod does; the operator's error counter is shared with the file's other sales)
    const key = `${env.ns}/${name}`;
    await expectStable(async () => expect(env.op.controller.queue.numRequeues(key)).toBe(0), 2000);
    // fixing the spec heals it
    await applyManifest(exampleSale(name, env.ns));
    await waitReady(env.ns, name);
    await kubectl(['-n', env.ns, 'delete', 'flashsale', name]);
  });
});
