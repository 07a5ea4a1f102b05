/**
 * Blue-green upgrades of a live sale's gateway on the real control plane (kube-apiserver, controller-manager with the
 * HPA controller, scheduler, kwok), Redis and Kafka: image change -> preview -> promotion -> scale-down, with the
 * gateway Service sampled all along (it must always select Ready pods); the HPA's replica count survives the switch;
 * a preview that can never be scheduled is aborted within the deadline; manual pause, promote and abort through the
 * kubectl plugin.
 */
import { describe, expect, it } from 'vitest';
import { eventually, expectStable } from '../../e2e/support/wait.ts';
import {
  bg,
  blueGreenSale,
  plugin,
  rollout,
  sampleSelection,
  selectorColour,
  useBlueGreenNamespace,
  waitRollout,
  warnings,
} from './bluegreen-support.ts';
import { applyManifest, condition, getJson, type Json, kubectl, type Manifest, uniq, waitReady } from './support.ts';

useBlueGreenNamespace('op-bg');

describe('blue-green gateway upgrades', () => {
  const name = uniq('bg');
  let manifest: Manifest;

  it('starts on blue: colour Deployment, active and preview Services, HPA on blue', async () => {
    manifest = blueGreenSale(name);
    await applyManifest(manifest);
    const fs = await waitReady(bg.ns, name);
    expect(fs.status.rollout).toMatchObject({ activeColour: 'blue', previewColour: 'green', phase: 'Promoted' });
    expect(await selectorColour(name)).toBe('blue');
    const preview = await getJson('service', bg.ns, `${name}-gateway-preview`);
    expect(preview.spec.selector['flashsale.dev/colour']).toBe('green');
    expect(await getJson('deployment', bg.ns, `${name}-gateway`)).toBeNull();
    const hpa = await getJson('horizontalpodautoscaler', bg.ns, `${name}-gateway`);
    expect(hpa.spec.scaleTargetRef.name).toBe(`${name}-gateway-blue`);
    // the HPA (min 2) sized blue; the operator does not own its replicas
    const blue = await eventually('blue at the HPA minimum', async () => {
      const d = await getJson('deployment', bg.ns, `${name}-gateway-blue`);
      return d?.spec?.replicas === 2 && d.status?.readyReplicas === 2 ? d : null;
    });
    const opFields = JSON.stringify(
      blue.metadata.managedFields.filter((f: { manager: string }) => f.manager === 'flashsale-operator'),
    );
    expect(opFields).not.toContain('"f:replicas"');
  });

  it('an image change previews green at the HPA count, promotes, switches and scales blue down; the Service always selects ready pods', async () => {
    // the HPA scaled up in the storm (as if by metrics): 3 pods on blue
    await kubectl(['-n', bg.ns, 'scale', 'deployment', `${name}-gateway-blue`, '--replicas=3']);
    await eventually('blue at 3 ready', async () => {
      const d = await getJson('deployment', bg.ns, `${name}-gateway-blue`);
      return d?.status?.readyReplicas === 3;
    });
    const sampler = sampleSelection(name);
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(manifest);

    // the preview side is created at the active side's size (never one pod in the middle of the storm)
    const green = await eventually<Json>('green created', () => getJson('deployment', bg.ns, `${name}-gateway-green`));
    expect(green.spec.replicas).toBe(3);
    expect(green.spec.template.spec.containers[0].image).toBe('example.org/flash-sale-engine:2.0.0');

    const promoted = await waitRollout(name, (r) => r.activeColour === 'green' && r.phase === 'Promoted', 'promoted');
    expect(promoted.previewColour).toBe('blue');
    expect(await selectorColour(name)).toBe('green');
    const hpa = await getJson('horizontalpodautoscaler', bg.ns, `${name}-gateway`);
    expect(hpa.spec.scaleTargetRef.name).toBe(`${name}-gateway-green`);

    // blue goes to 0 after the 2 s scale-down delay, and is kept
    await eventually(
      'blue scaled to 0',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway-blue`))?.spec?.replicas === 0,
      20_000,
    );
    await waitRollout(name, (r) => r.step === 'Done', 'step Done');
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(10);
    expect(Math.min(...samples), `ready pods selected at each sample: ${samples.join(',')}`).toBeGreaterThan(0);

    // the HPA keeps the count across the switch: green stays at 3, and replicas are no longer the operator's
    const green3 = async () => {
      const g = await getJson('deployment', bg.ns, `${name}-gateway-green`);
      expect(g.spec.replicas).toBe(3);
      expect(g.status.readyReplicas).toBe(3);
      return g;
    };
    await expectStable(green3, 3_000);
    const g = await green3();
    const opFields = JSON.stringify(
      g.metadata.managedFields.filter((f: { manager: string }) => f.manager === 'flashsale-operator'),
    );
    expect(opFields).not.toContain('"f:replicas"');
    const fs = await getJson('flashsale', bg.ns, name);
    expect(condition(fs, 'Ready')?.status).toBe('True');
    expect(condition(fs, 'Degraded')?.status).toBe('False');
  });

  it('a preview that never becomes ready is aborted within the deadline; traffic stays on the old colour', async () => {
    const started = Date.now();
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:3.0.0';
    // nothing can schedule 999 CPUs: the preview's pods stay Pending
    const runningResources = structuredClone(manifest.spec.gateway.resources);
    manifest.spec.gateway.resources = { requests: { cpu: '999', memory: '128Mi' } };
    await applyManifest(manifest);
    const sampler = sampleSelection(name);
    const aborted = await waitRollout(name, (r) => r.phase === 'Aborted', 'aborted', 30_000);
    const tookS = (Date.now() - started) / 1000;
    // the 12 s deadline plus the reconcile and polling latency of a loaded 2-core machine
    expect(tookS).toBeLessThan(12 + 15);
    expect(aborted.activeColour).toBe('green');
    expect(aborted.message).toContain('not available within 12s');
    expect(await selectorColour(name)).toBe('green');
    await eventually(
      'preview blue at 0',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway-blue`))?.spec?.replicas === 0,
    );
    const fs = await eventually('Degraded=True RolloutAborted', async () => {
      const f = await getJson('flashsale', bg.ns, name);
      return condition(f, 'Degraded')?.reason === 'RolloutAborted' ? f : null;
    });
    expect(condition(fs, 'Degraded')?.status).toBe('True');
    expect(await warnings(name)).toContain('RolloutAborted');
    // still aborted a few reconciles later (not retried until the spec changes)
    await expectStable(async () => expect((await rollout(name)).phase).toBe('Aborted'), 1_500);
    const samples = await sampler.stop();
    expect(Math.min(...samples)).toBeGreaterThan(0);

    // the spec back to what green runs: the rollout is over, Degraded clears
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    manifest.spec.gateway.resources = runningResources;
    await applyManifest(manifest);
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'green', 'back to Promoted');
    await eventually('Degraded=False', async () => {
      const f = await getJson('flashsale', bg.ns, name);
      return condition(f, 'Degraded')?.status === 'False';
    });
  });

  it('manual control: autoPromote false pauses before promotion; `kubectl flashsale promote` promotes', async () => {
    manifest.spec.upgradeStrategy.autoPromote = false;
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:4.0.0';
    await applyManifest(manifest);
    const paused = await waitRollout(name, (r) => r.phase === 'Paused', 'paused');
    expect(paused.message).toContain('autoPromote is false');
    await expectStable(async () => {
      expect(await selectorColour(name)).toBe('green');
      expect((await rollout(name)).phase).toBe('Paused');
    }, 1_000);

    expect(await plugin('promote', name)).toContain('flashsale.dev/promote=');
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'blue', 'promoted to blue');
    expect(await selectorColour(name)).toBe('blue');
  });

  it('manual control: `kubectl flashsale pause` pauses, `abort` aborts, `resume` removes the pause', async () => {
    manifest.spec.upgradeStrategy.autoPromote = true;
    expect(await plugin('pause', name)).toContain('flashsale.dev/pause-rollout=true');
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:5.0.0';
    await applyManifest(manifest);
    const paused2 = await waitRollout(name, (r) => r.phase === 'Paused' && r.activeColour === 'blue', 'paused again');
    expect(paused2.message).toContain('pause-rollout');
    expect(await plugin('abort', name)).toContain('flashsale.dev/abort=');
    const aborted = await waitRollout(name, (r) => r.phase === 'Aborted', 'aborted by hand');
    expect(aborted.message).toContain('abort requested');
    expect(await selectorColour(name)).toBe('blue');
    await eventually(
      'green at 0',
      async () => (await getJson('deployment', bg.ns, `${name}-gateway-green`))?.spec?.replicas === 0,
    );
    expect(await plugin('resume', name)).toContain('pause-rollout=null');
    const fs = await getJson('flashsale', bg.ns, name);
    expect(fs.metadata.annotations?.['flashsale.dev/pause-rollout']).toBeUndefined();
  });
});
