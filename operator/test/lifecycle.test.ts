/**
 * The life of one sale through the operator, on the real control plane (kwok), Redis and Kafka, driven by kubectl
 * apply of the example manifest: children with owner references, Deployments Available, Redis seeded, topics,
 * Ready=True; edits of quantity, partitions and image converge without losing sold units; pause; delete (Delete).
 */
import { auditItem, confirm, itemKeys, reserve, topics } from '@flashsale/common';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectStable } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  condition,
  eventsWith,
  exampleSale,
  getJson,
  type Json,
  kafkaAdmin,
  kubectl,
  type Manifest,
  redisClient,
  topicPartitions,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const env = useTestOperator('op-life');
let admin: Admin;
const r = redisClient();
const name = uniq('life');
let manifest: Manifest;

beforeAll(async () => {
  admin = await kafkaAdmin();
});

afterAll(async () => {
  await admin?.disconnect();
  r.disconnect();
});

describe('a FlashSale applied with kubectl', () => {
  it('becomes Ready with every owned object, seeded inventory and topics', async () => {
    manifest = exampleSale(name, env.ns, (m) => {
      m.spec.deletionPolicy = 'Delete';
    });
    await applyManifest(manifest);
    const fs = await waitReady(env.ns, name);
    expect(fs.status.phase).toBe('Live');
    const uid = fs.metadata.uid;

    const owned: [string, string][] = [
      ['configmap', `${name}-config`],
      ['deployment', `${name}-gateway`],
      ['deployment', `${name}-processor`],
      ['service', `${name}-gateway`],
      ['service', `${name}-processor-metrics`],
      ['poddisruptionbudget', `${name}-gateway`],
      ['poddisruptionbudget', `${name}-processor`],
      ['horizontalpodautoscaler', `${name}-gateway`],
      ['horizontalpodautoscaler', `${name}-processor`],
      ['prometheusrule', `${name}-alerts`],
      ['servicemonitor', name],
    ];
    for (const [kind, n] of owned) {
      const o = await getJson(kind, env.ns, n);
      expect(o, `${kind}/${n}`).not.toBeNull();
      expect(o.metadata.ownerReferences, `${kind}/${n}`).toEqual([
        expect.objectContaining({ kind: 'FlashSale', name, uid, controller: true, blockOwnerDeletion: true }),
      ]);
      const managers = (o.metadata.managedFields ?? []).map((f: { manager: string }) => f.manager);
      expect(managers, `${kind}/${n}`).toContain('flashsale-operator');
    }

    const gw = await getJson('deployment', env.ns, `${name}-gateway`);
    const c = gw.spec.template.spec.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(gw.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    // an HPA owns the replicas: the operator never applied spec.replicas
    const replicaOwners = (gw.metadata.managedFields ?? [])
      .filter((f: Json) => f.manager === 'flashsale-operator' && f.fieldsV1?.['f:spec']?.['f:replicas'])
      .map((f: Json) => f.manager);
    expect(replicaOwners).toEqual([]);
    const cond = gw.status.conditions.find((x: Json) => x.type === 'Available');
    expect(cond.status).toBe('True');
    const hpa = await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`);
    expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(2); // capped at the 2 partitions
    const cm = await getJson('configmap', env.ns, `${name}-config`);
    expect(cm.data).toMatchObject({ SALE_NAME: name, REDIS_ADDR: manifest.spec.redis.addr });

    for (const it of manifest.spec.items as { id: string; quantity: number }[]) {
      const a = await auditItem(r, name, it.id);
      expect(a).toMatchObject({ seeded: true, initial: it.quantity, remaining: it.quantity, drift: 0 });
    }
    expect(await topicPartitions(admin, topics(name).orders)).toBe(2);
    expect(await topicPartitions(admin, topics(name).dlq)).toBeGreaterThanOrEqual(1);
    expect(fs.status.items).toContainEqual(
      expect.objectContaining({ id: 'console-x', quantity: 500, remaining: 500, sold: 0 }),
    );
    expect(fs.status.gatewayEndpoint).toBe(`http://${name}-gateway.${env.ns}.svc:80`);
    for (const t of ['InventorySeeded', 'TopicsReady', 'WorkloadsAvailable', 'MonitoringReady']) {
      expect(condition(fs, t)?.status, t).toBe('True');
    }
    // the test cluster has no metrics-server or prometheus-adapter: once the HPA controller has tried, the sale says so
    expect(['HorizontalPodAutoscalers', 'MetricsUnavailable']).toContain(condition(fs, 'ScalingReady')?.reason);
    const reasons = (await eventsWith(env.ns, name, ['Created', 'InventorySeeded', 'TopicCreated'])).map(
      (e) => e.reason,
    );
    expect(reasons).toEqual(expect.arrayContaining(['Created', 'InventorySeeded', 'TopicCreated']));
  });

  it('writes the status only when it changed (a quiet sale is not rewritten by the status refreshes)', async () => {
    // STATUS_REFRESH is 2 s in tests: three more reconciles with the same resourceVersion. Scale-ups by the HPA
    // legitimately change the status (ready replicas), so look for one quiet stretch among a few.
    let quiet = false;
    for (let i = 0; i < 4 && !quiet; i++) {
      const before = (await getJson('flashsale', env.ns, name)).metadata.resourceVersion;
      const reconciles = await env.op.metrics.count();
      await eventually('three more reconciles', async () => (await env.op.metrics.count()) >= reconciles + 3, 20_000);
      quiet = before === (await getJson('flashsale', env.ns, name)).metadata.resourceVersion;
    }
    expect(quiet).toBe(true);
  });

  it('converges on edits of quantity, partitions and image without losing sold units', async () => {
    // sell 3 consoles (what the processor does), hold 1 more
    for (let i = 0; i < 4; i++) {
      const orderId = `o-${i}`;
      const res = await reserve(
        r,
        name,
        { orderId, itemId: 'console-x', userId: `u${i}`, quantity: 1, correlationId: 'c', requestId: 'q' },
        600_000,
      );
      expect(res.status).toBe('RESERVED');
      if (i < 3) expect((await confirm(r, name, 'console-x', orderId)).outcome).toBe('confirmed');
    }
    manifest.spec.items[0].quantity = 600; // restock by 100
    manifest.spec.items[1].quantity = 1500; // reduce by 500
    manifest.spec.topics.partitions = 3;
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(manifest);
    const fs = await eventually(
      'the edits to converge',
      async () => {
        const f = await waitReady(env.ns, name);
        const item = f.status.items.find((i: { id: string }) => i.id === 'console-x');
        return item?.quantity === 600 && item.sold === 3 && f.status.topics?.partitions === 3 ? f : null;
      },
      40_000,
    );
    const console = await auditItem(r, name, 'console-x');
    expect(console).toMatchObject({ initial: 600, confirmed: 3, held: 1, remaining: 596, drift: 0 });
    const phones = await auditItem(r, name, 'headphones-pro');
    expect(phones).toMatchObject({ initial: 1500, remaining: 1500, drift: 0 });
    expect(await topicPartitions(admin, topics(name).orders)).toBe(3);
    const hpa = await getJson('horizontalpodautoscaler', env.ns, `${name}-processor`);
    expect(hpa.spec.maxReplicas).toBe(3);
    const gw = await getJson('deployment', env.ns, `${name}-gateway`);
    expect(gw.spec.template.spec.containers[0].image).toBe('example.org/flash-sale-engine:2.0.0');
    expect(fs.status.totalSold).toBe(3);
    // re-applying the same manifest changes nothing
    await applyManifest(manifest);
    await waitReady(env.ns, name);
    expect(await auditItem(r, name, 'console-x')).toMatchObject({ initial: 600, confirmed: 3, remaining: 596 });
  });

  it('pauses on the annotation and resumes without it', async () => {
    await kubectl(['-n', env.ns, 'annotate', 'flashsale', name, 'flashsale.dev/paused=true']);
    await eventually(
      'Paused=True',
      async () => condition(await getJson('flashsale', env.ns, name), 'Paused')?.status === 'True',
    );
    manifest.spec.items[0].quantity = 700;
    await applyManifest({
      ...manifest,
      metadata: { ...manifest.metadata, annotations: { 'flashsale.dev/paused': 'true' } },
    });
    // paused: the new quantity is not seeded, however long one waits
    await expectStable(async () => expect((await auditItem(r, name, 'console-x')).initial).toBe(600), 1500);
    await kubectl(['-n', env.ns, 'annotate', 'flashsale', name, 'flashsale.dev/paused-']);
    await eventually(
      'the restock after unpausing',
      async () => (await auditItem(r, name, 'console-x')).initial === 700,
    );
    const fs = await waitReady(env.ns, name);
    expect(condition(fs, 'Paused')?.status).toBe('False');
  });

  it('with deletionPolicy Delete removes the Redis keys and topics, then the FlashSale and its children', async () => {
    await kubectl(['-n', env.ns, 'delete', 'flashsale', name, '--wait=false']);
    await eventually(
      'the FlashSale to be gone',
      async () => (await getJson('flashsale', env.ns, name)) === null,
      30_000,
    );
    expect(await r.exists(itemKeys(name, 'console-x').stock)).toBe(0);
    expect(await r.exists(itemKeys(name, 'console-x').meta)).toBe(0);
    expect(await topicPartitions(admin, topics(name).orders)).toBeUndefined();
    // the garbage collector removes the children through the owner references
    await eventually(
      'children garbage-collected',
      async () => (await getJson('deployment', env.ns, `${name}-gateway`)) === null,
      30_000,
    );
  });
});
