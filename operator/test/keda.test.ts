/**
 * autoscaling.provider KEDA on a cluster that serves keda.sh/v1alpha1 (the ScaledObject CRD of KEDA v2.21.0 is
 * installed by the test): ScaledObjects with Prometheus triggers replace the HPAs, capped at the partitions.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatorHandle } from '../src/operator.ts';
import {
  applyManifest,
  condition,
  createNamespace,
  deleteNamespace,
  exampleSale,
  getJson,
  installCrd,
  type Json,
  kubectl,
  startTestOperator,
  uniq,
  waitFor,
  waitReady,
} from './support.ts';

let ns: string;
let op: OperatorHandle;

beforeAll(async () => {
  await installCrd();
  await kubectl(['apply', '--server-side', '-f', join(import.meta.dirname, 'fixtures/keda.sh_scaledobjects.yaml')]);
  await kubectl(['wait', '--for=condition=Established', 'crd/scaledobjects.keda.sh', '--timeout=30s']);
  ns = await createNamespace('op-keda');
  op = await startTestOperator({ namespace: ns });
});

afterAll(async () => {
  await op?.stop();
  if (ns) await deleteNamespace(ns);
});

describe('KEDA', () => {
  it('creates ScaledObjects instead of HPAs, owned by the sale, processor capped at the partitions', async () => {
    const name = uniq('keda');
    await applyManifest(
      exampleSale(name, ns, (m) => {
        m.spec.autoscaling.provider = 'KEDA';
        m.spec.autoscaling.processor.maxReplicas = 8;
        m.spec.topics.partitions = 3;
      }),
    );
    const fs = await waitReady(ns, name);
    expect(condition(fs, 'ScalingReady')).toMatchObject({ status: 'True', reason: 'KedaScaledObjects' });
    const so = await waitFor<Json>('the processor ScaledObject', () =>
      getJson('scaledobject', ns, `${name}-processor`),
    );
    expect(so.metadata.ownerReferences[0]).toMatchObject({ kind: 'FlashSale', name, controller: true });
    expect(so.spec.maxReplicaCount).toBe(3);
    expect(so.spec.triggers[0]).toMatchObject({ type: 'prometheus' });
    expect(so.spec.triggers[0].metadata.query).toContain(`sale="${name}"`);
    const gw = await getJson('scaledobject', ns, `${name}-gateway`);
    expect(gw.spec.triggers.map((t: { type: string }) => t.type)).toEqual(['cpu', 'prometheus']);
    expect(await getJson('horizontalpodautoscaler', ns, `${name}-gateway`)).toBeNull();
    // switching back to HPA removes the ScaledObjects
    await applyManifest(exampleSale(name, ns, (m) => (m.spec.topics.partitions = 3)));
    await waitFor('the HPA', () => getJson('horizontalpodautoscaler', ns, `${name}-gateway`));
    await waitFor(
      'the ScaledObject to go',
      async () => (await getJson('scaledobject', ns, `${name}-gateway`)) === null,
    );
  });
});
