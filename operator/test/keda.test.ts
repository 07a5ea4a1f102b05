/**
 * autoscaling.provider KEDA on a cluster that serves keda.sh/v1alpha1 (the ScaledObject CRD of KEDA v2.21.0 is
 * installed by the test): ScaledObjects with Prometheus triggers replace the HPAs, capped at the partitions.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  condition,
  exampleSale,
  getJson,
  type Json,
  kubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

// the ScaledObject CRD is served before the operator starts (it discovers keda.sh/v1alpha1)
const env = useTestOperator('op-keda', {
  before: async () => {
    await kubectl(['apply', '--server-side', '-f', join(import.meta.dirname, 'fixtures/keda.sh_scaledobjects.yaml')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/scaledobjects.keda.sh', '--timeout=30s']);
  },
});

describe('KEDA', () => {
  it('creates ScaledObjects instead of HPAs, owned by the sale, processor capped at the partitions', async () => {
    const name = uniq('keda');
    await applyManifest(
      exampleSale(name, env.ns, (m) => {
        m.spec.autoscaling.provider = 'KEDA';
        m.spec.autoscaling.processor.maxReplicas = 8;
        m.spec.topics.partitions = 3;
      }),
    );
    const fs = await waitReady(env.ns, name);
    expect(condition(fs, 'ScalingReady')).toMatchObject({ status: 'True', reason: 'KedaScaledObjects' });
    const so = await eventually<Json>('the processor ScaledObject', () =>
      getJson('scaledobject', env.ns, `${name}-processor`),
    );
    expect(so.metadata.ownerReferences[0]).toMatchObject({ kind: 'FlashSale', name, controller: true });
    expect(so.spec.maxReplicaCount).toBe(3);
    expect(so.spec.triggers[0]).toMatchObject({ type: 'prometheus' });
    expect(so.spec.triggers[0].metadata.query).toContain(`sale="${name}"`);
    const gw = await getJson('scaledobject', env.ns, `${name}-gateway`);
    expect(gw.spec.triggers.map((t: { type: string }) => t.type)).toEqual(['cpu', 'prometheus']);
    expect(await getJson('horizontalpodautoscaler', env.ns, `${name}-gateway`)).toBeNull();
    // switching back to HPA removes the ScaledObjects
    await applyManifest(exampleSale(name, env.ns, (m) => (m.spec.topics.partitions = 3)));
    await eventually('the HPA', () => getJson('horizontalpodautoscaler', env.ns, `${name}-gateway`));
    await eventually(
      'the ScaledObject to go',
      async () => (await getJson('scaledobject', env.ns, `${name}-gateway`)) === null,
    );
  });
});
