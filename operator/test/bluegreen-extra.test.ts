/**
 * Blue-green, more: the analysis against the harness's real Prometheus (no data for the preview: inconclusive ->
 * paused), switching the strategy of a live sale, an operator swap (leader hand-over) in the middle of a rollout, and
 * a rollback by abort after a promotion (during the scale-down delay).
 */
import { describe, expect, inject, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  bg,
  blueGreenSale,
  plugin,
  sampleSelection,
  selectorColour,
  useBlueGreenNamespace,
  waitRollout,
  warnings,
} from './bluegreen-support.ts';
import {
  applyManifest,
  condition,
  exampleSale,
  getJson,
  kubectl,
  startTestOperator,
  uniq,
  waitReady,
} from './support.ts';

useBlueGreenNamespace('op-bgx');

describe('analysis against the real Prometheus', () => {
  it('no data for the preview is inconclusive: the rollout pauses for a person to decide', async () => {
    const prom = inject('services').prometheus;
    if (!prom) throw new Error('Prometheus (services.prometheus) is missing: the harness did not start it');
    const name = uniq('bga');
    const m = blueGreenSale(name, (x) => {
      x.spec.autoscaling.enabled = false;
      x.spec.gateway.replicas = 1;
      x.spec.upgradeStrategy.analysis = { prometheusUrl: prom.url, window: '1s', onInconclusive: 'Pause' };
    });
    await applyManifest(m);
    await waitReady(bg.ns, name);
    m.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(m);
    const paused = await waitRollout(name, (r) => r.phase === 'Paused', 'paused on an inconclusive analysis');
    expect(paused.analysis).toBe('Inconclusive');
    expect(paused.message).toContain('no data for the preview');
    expect(await selectorColour(name)).toBe('blue');
    // a person decides: promote
    await kubectl(['-n', bg.ns, 'annotate', 'flashsale', name, `flashsale.dev/promote=${new Date().toISOString()}`]);
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'green', 'promoted by hand');
  });
});

describe('switching the strategy of a live sale', () => {
  it('Rolling -> BlueGreen -> Rolling keeps Ready pods selected and the gateway size', async () => {
    const name = uniq('bgm');
    const m = exampleSale(name, bg.ns);
    await applyManifest(m);
    await waitReady(bg.ns, name);
    // the HPA settles the floor (2) first; then "the HPA scales up" (by hand: no metrics here) to 3
    await eventually(
      'gateway at the HPA minimum',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway`))?.status?.readyReplicas === 2,
      60_000,
    );
    await kubectl(['-n', bg.ns, 'scale', 'deployment', `${name}-gateway`, '--replicas=3']);
    await eventually(
      'gateway at 3 ready',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway`))?.status?.readyReplicas === 3,
      60_000,
    );
    const sampler = sampleSelection(name);

    m.spec.upgradeStrategy = { type: 'BlueGreen', scaleDownDelaySeconds: 2, progressDeadlineSeconds: 12 };
    await applyManifest(m);
    await eventually('old Deployment gone, Service on blue', async () => {
      const old = await getJson('deployment', bg.ns, `${name}-gateway`);
      return !old && (await selectorColour(name)) === 'blue';
    });
    const blue = await getJson('deployment', bg.ns, `${name}-gateway-blue`);
    expect(blue.spec.replicas).toBe(3);
    await eventually(
      'HPA on blue',
      async () =>
        (await getJson('horizontalpodautoscaler', bg.ns, `${name}-gateway`))?.spec.scaleTargetRef.name ===
        `${name}-gateway-blue`,
    );

    m.spec.upgradeStrategy = { type: 'Rolling' };
    await applyManifest(m);
    await eventually('colour Deployments gone, Service on every gateway pod', async () => {
      const b = await getJson('deployment', bg.ns, `${name}-gateway-blue`);
      const svc = await getJson('service', bg.ns, `${name}-gateway`);
      return !b && svc && !svc.spec.selector['flashsale.dev/colour'];
    });
    const back = await getJson('deployment', bg.ns, `${name}-gateway`);
    expect(back.spec.replicas).toBe(3);
    await eventually('status.rollout gone', async () => !(await getJson('flashsale', bg.ns, name))?.status?.rollout);
    const samples = await sampler.stop();
    expect(Math.min(...samples), `ready pods selected at each sample: ${samples.join(',')}`).toBeGreaterThan(0);
  });
});

describe('an operator upgrade in the middle of a rollout', () => {
  it('the new operator (leader hand-over) adopts the objects as they are and finishes the rollout', async () => {
    const name = uniq('bgu');
    const m = blueGreenSale(name, (x) => {
      x.spec.upgradeStrategy.autoPromote = false;
    });
    await applyManifest(m);
    await waitReady(bg.ns, name);
    m.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(m);
    await waitRollout(name, (r) => r.phase === 'Paused', 'paused');
    const uids = async () =>
      Promise.all(
        [
          ['deployment', `${name}-gateway-blue`],
          ['deployment', `${name}-gateway-green`],
          ['service', `${name}-gateway`],
          ['service', `${name}-gateway-preview`],
          ['horizontalpodautoscaler', `${name}-gateway`],
        ].map(async ([k, n]) => (await getJson(k as string, bg.ns, n as string))?.metadata?.uid),
      );
    const before = await uids();

    // helm upgrade: the old pod stops (finishes its reconciles, releases the Lease), the new one leads at once
    await bg.op.stop();
    bg.op = await startTestOperator({ namespace: bg.ns, identity: 'operator-v2' });
    expect(await plugin('promote', name)).toContain('flashsale.dev/promote=');
    await waitRollout(
      name,
      (r) => r.phase === 'Promoted' && r.activeColour === 'green',
      'promoted by the new operator',
    );
    // the new identity holds the Lease (the old one released it on stop; no wait for expiry is needed)
    expect((await getJson('lease', bg.ns, 'flashsale-operator'))?.spec?.holderIdentity).toBe('operator-v2');
    expect(await uids()).toEqual(before);
    expect(await selectorColour(name)).toBe('green');
  });
});

describe('rollback after a promotion', () => {
  it('abort during the scale-down delay returns traffic to the old colour at once', async () => {
    const name = uniq('bgr');
    const m = blueGreenSale(name, (x) => {
      x.spec.autoscaling.enabled = false;
      x.spec.gateway.replicas = 2;
      x.spec.upgradeStrategy.scaleDownDelaySeconds = 300;
    });
    await applyManifest(m);
    await waitReady(bg.ns, name);
    m.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(m);
    await waitRollout(name, (r) => r.activeColour === 'green' && r.step === 'ScaleDown', 'promoted, blue kept');
    const sampler = sampleSelection(name);
    expect(await plugin('abort', name)).toContain('flashsale.dev/abort=');
    const back = await waitRollout(name, (r) => r.phase === 'Aborted' && r.activeColour === 'blue', 'rolled back');
    expect(back.message).toContain('rolled back');
    expect(await selectorColour(name)).toBe('blue');
    await eventually(
      'green at 0',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway-green`))?.spec?.replicas === 0,
    );
    const fs = await getJson('flashsale', bg.ns, name);
    expect(condition(fs, 'Degraded')?.reason).toBe('RolloutAborted');
    expect(await warnings(name)).toContain('RolloutAborted');
    const samples = await sampler.stop();
    expect(Math.min(...samples), `ready pods selected: ${samples.join(',')}`).toBeGreaterThan(0);
  });
});
