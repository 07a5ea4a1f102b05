/**
 * Blue-green upgrades of a live sale's gateway on the real control plane (kube-apiserver, controller-manager with the
 * HPA controller, scheduler, kwok), Redis and Kafka: image change -> preview -> promotion -> scale-down, with the
 * gateway Service sampled all along (it must always select Ready pods); a preview that can never be scheduled is
 * aborted within the deadline; manual pause, promote and abort; the HPA's replica count survives the switch; the
 * analysis against the harness's real Prometheus (no data for the preview: inconclusive -> paused).
 */

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
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
  type Manifest,
  ROOT,
  services,
  startTestOperator,
  uniq,
  waitFor,
  waitReady,
} from './support.ts';

/** The kubectl plugin (`kubectl flashsale ...`), as a user runs it. */
async function plugin(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [`${ROOT}/cli/src/kubectl.ts`, ...args, '-n', ns], {
    env: { ...process.env, KUBECONFIG: services().kube.kubeconfig },
  });
  return stdout;
}

let ns: string;
let op: OperatorHandle;
let core: CoreV1Api;

beforeAll(async () => {
  await installCrd();
  ns = await createNamespace('op-bg');
  op = await startTestOperator({ namespace: ns });
  const kc = new KubeConfig();
  kc.loadFromFile(services().kube.kubeconfig);
  core = kc.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await op?.stop();
  if (ns) await deleteNamespace(ns);
});

function blueGreenSale(name: string, mutate?: (m: Manifest) => void): Manifest {
  return exampleSale(name, ns, (m) => {
    m.spec.upgradeStrategy = { type: 'BlueGreen', scaleDownDelaySeconds: 2, progressDeadlineSeconds: 12 };
    mutate?.(m);
  });
}

const rollout = async (name: string) => (await getJson('flashsale', ns, name))?.status?.rollout ?? {};

function waitRollout(name: string, pred: (r: Json) => boolean, what: string, timeoutMs = 30_000) {
  return waitFor(
    `${name}: ${what}`,
    async () => {
      const r = await rollout(name);
      return pred(r) ? r : null;
    },
    timeoutMs,
    200,
  );
}

/** Ready, not terminating pods the gateway Service selects right now. */
async function readySelected(name: string): Promise<number> {
  const svc = await getJson('service', ns, `${name}-gateway`);
  const sel = Object.entries(svc?.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!sel) return 0;
  const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: sel });
  return pods.items.filter(
    (p: V1Pod) =>
      !p.metadata?.deletionTimestamp &&
      (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

/** Samples the Service's ready selection until stopped; returns every sample. */
function sampleSelection(name: string) {
  const samples: number[] = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      samples.push(await readySelected(name));
      await new Promise((r) => setTimeout(r, 150));
    }
  })();
  return {
    samples,
    stop: async () => {
      stop = true;
      await done;
      return samples;
    },
  };
}

const selectorColour = async (name: string) =>
  (await getJson('service', ns, `${name}-gateway`))?.spec?.selector?.['flashsale.dev/colour'];

async function warnings(name: string): Promise<string[]> {
  const out = await kubectl([
    '-n',
    ns,
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${name}`,
    '-o',
    'json',
  ]);
  return JSON.parse(out)
    .items.filter((e: { type: string }) => e.type === 'Warning')
    .map((e: { reason: string }) => e.reason);
}

describe('blue-green gateway upgrades', () => {
  const name = uniq('bg');
  let manifest: Manifest;

  it('starts on blue: colour Deployment, active and preview Services, HPA on blue', async () => {
    manifest = blueGreenSale(name);
    await applyManifest(manifest);
    const fs = await waitReady(ns, name);
    expect(fs.status.rollout).toMatchObject({ activeColour: 'blue', previewColour: 'green', phase: 'Promoted' });
    expect(await selectorColour(name)).toBe('blue');
    const preview = await getJson('service', ns, `${name}-gateway-preview`);
    expect(preview.spec.selector['flashsale.dev/colour']).toBe('green');
    expect(await getJson('deployment', ns, `${name}-gateway`)).toBeNull();
    const hpa = await getJson('horizontalpodautoscaler', ns, `${name}-gateway`);
    expect(hpa.spec.scaleTargetRef.name).toBe(`${name}-gateway-blue`);
    // the HPA (min 2) sized blue; the operator does not own its replicas
    const blue = await waitFor('blue at the HPA minimum', async () => {
      const d = await getJson('deployment', ns, `${name}-gateway-blue`);
      return d?.spec?.replicas === 2 && d.status?.readyReplicas === 2 ? d : null;
    });
    const opFields = JSON.stringify(
      blue.metadata.managedFields.filter((f: { manager: string }) => f.manager === 'flashsale-operator'),
    );
    expect(opFields).not.toContain('"f:replicas"');
  });

  it('an image change previews green at the HPA count, promotes, switches and scales blue down; the Service always selects ready pods', async () => {
    // the HPA scaled up in the storm (as if by metrics): 3 pods on blue
    await kubectl(['-n', ns, 'scale', 'deployment', `${name}-gateway-blue`, '--replicas=3']);
    await waitFor('blue at 3 ready', async () => {
      const d = await getJson('deployment', ns, `${name}-gateway-blue`);
      return d?.status?.readyReplicas === 3;
    });
    const sampler = sampleSelection(name);
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(manifest);

    // the preview side is created at the active side's size (never one pod in the middle of the storm)
    const green = await waitFor<Json>('green created', () => getJson('deployment', ns, `${name}-gateway-green`));
    expect(green.spec.replicas).toBe(3);
    expect(green.spec.template.spec.containers[0].image).toBe('example.org/flash-sale-engine:2.0.0');

    const promoted = await waitRollout(name, (r) => r.activeColour === 'green' && r.phase === 'Promoted', 'promoted');
    expect(promoted.previewColour).toBe('blue');
    expect(await selectorColour(name)).toBe('green');
    const hpa = await getJson('horizontalpodautoscaler', ns, `${name}-gateway`);
    expect(hpa.spec.scaleTargetRef.name).toBe(`${name}-gateway-green`);

    // blue goes to 0 after the 2 s scale-down delay, and is kept
    await waitFor(
      'blue scaled to 0',
      async () => (await getJson('deployment', ns, `${name}-gateway-blue`))?.spec?.replicas === 0,
      20_000,
    );
    await waitRollout(name, (r) => r.step === 'Done', 'step Done');
    const samples = await sampler.stop();
    expect(samples.length).toBeGreaterThan(10);
    expect(Math.min(...samples), `ready pods selected at each sample: ${samples.join(',')}`).toBeGreaterThan(0);

    // the HPA keeps the count across the switch: green stays at 3, and replicas are no longer the operator's
    await new Promise((r) => setTimeout(r, 3_000));
    const g = await getJson('deployment', ns, `${name}-gateway-green`);
    expect(g.spec.replicas).toBe(3);
    expect(g.status.readyReplicas).toBe(3);
    const opFields = JSON.stringify(
      g.metadata.managedFields.filter((f: { manager: string }) => f.manager === 'flashsale-operator'),
    );
    expect(opFields).not.toContain('"f:replicas"');
    const fs = await getJson('flashsale', ns, name);
    expect(condition(fs, 'Ready')?.status).toBe('True');
    expect(condition(fs, 'Degraded')?.status).toBe('False');
  });

  it('a preview that never becomes ready is aborted within the deadline; traffic stays on the old colour', async () => {
    const started = Date.now();
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:3.0.0';
    // nothing can schedule 999 CPUs: the preview's pods stay Pending
    manifest.spec.gateway.resources = { requests: { cpu: '999', memory: '128Mi' } };
    await applyManifest(manifest);
    const sampler = sampleSelection(name);
    const aborted = await waitRollout(name, (r) => r.phase === 'Aborted', 'aborted', 30_000);
    const tookS = (Date.now() - started) / 1000;
    expect(tookS).toBeLessThan(12 + 8);
    expect(aborted.activeColour).toBe('green');
    expect(aborted.message).toContain('not available within 12s');
    expect(await selectorColour(name)).toBe('green');
    await waitFor(
      'preview blue at 0',
      async () => (await getJson('deployment', ns, `${name}-gateway-blue`))?.spec?.replicas === 0,
    );
    const fs = await waitFor('Degraded=True RolloutAborted', async () => {
      const f = await getJson('flashsale', ns, name);
      return condition(f, 'Degraded')?.reason === 'RolloutAborted' ? f : null;
    });
    expect(condition(fs, 'Degraded')?.status).toBe('True');
    expect(await warnings(name)).toContain('RolloutAborted');
    // still aborted a few reconciles later (not retried until the spec changes)
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await rollout(name)).phase).toBe('Aborted');
    const samples = await sampler.stop();
    expect(Math.min(...samples)).toBeGreaterThan(0);

    // the spec back to what green runs: the rollout is over, Degraded clears
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    manifest.spec.gateway.resources = { requests: { cpu: '250m', memory: '128Mi' }, limits: { memory: '256Mi' } };
    await applyManifest(manifest);
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'green', 'back to Promoted');
    await waitFor('Degraded=False', async () => {
      const f = await getJson('flashsale', ns, name);
      return condition(f, 'Degraded')?.status === 'False';
    });
  });

  it('manual control: pause before promotion, promote by annotation, abort by annotation', async () => {
    manifest.spec.upgradeStrategy.autoPromote = false;
    manifest.spec.gateway.image = 'example.org/flash-sale-engine:4.0.0';
    await applyManifest(manifest);
    const paused = await waitRollout(name, (r) => r.phase === 'Paused', 'paused');
    expect(paused.message).toContain('autoPromote is false');
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await selectorColour(name)).toBe('green');
    expect((await rollout(name)).phase).toBe('Paused');

    expect(await plugin('promote', name)).toContain('flashsale.dev/promote=');
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'blue', 'promoted to blue');
    expect(await selectorColour(name)).toBe('blue');

    // `kubectl flashsale pause` (autoPromote back on), then `kubectl flashsale abort`, then `resume`
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
    await waitFor(
      'green at 0',
      async () => (await getJson('deployment', ns, `${name}-gateway-green`))?.spec?.replicas === 0,
    );
    expect(await plugin('resume', name)).toContain('pause-rollout=null');
    const fs = await getJson('flashsale', ns, name);
    expect(fs.metadata.annotations?.['flashsale.dev/pause-rollout']).toBeUndefined();
  });
});

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
    await waitReady(ns, name);
    m.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(m);
    const paused = await waitRollout(name, (r) => r.phase === 'Paused', 'paused on an inconclusive analysis');
    expect(paused.analysis).toBe('Inconclusive');
    expect(paused.message).toContain('no data for the preview');
    expect(await selectorColour(name)).toBe('blue');
    // a person decides: promote
    await kubectl(['-n', ns, 'annotate', 'flashsale', name, `flashsale.dev/promote=${new Date().toISOString()}`]);
    await waitRollout(name, (r) => r.phase === 'Promoted' && r.activeColour === 'green', 'promoted by hand');
  });
});

describe('switching the strategy of a live sale', () => {
  it('Rolling -> BlueGreen -> Rolling keeps Ready pods selected and the gateway size', async () => {
    const name = uniq('bgm');
    const m = exampleSale(name, ns);
    await applyManifest(m);
    await waitReady(ns, name);
    await kubectl(['-n', ns, 'scale', 'deployment', `${name}-gateway`, '--replicas=3']);
    await waitFor('gateway at 3 ready', async () => {
      const d = await getJson('deployment', ns, `${name}-gateway`);
      return d?.status?.readyReplicas === 3;
    });
    const sampler = sampleSelection(name);

    m.spec.upgradeStrategy = { type: 'BlueGreen', scaleDownDelaySeconds: 2, progressDeadlineSeconds: 12 };
    await applyManifest(m);
    await waitFor('old Deployment gone, Service on blue', async () => {
      const old = await getJson('deployment', ns, `${name}-gateway`);
      return !old && (await selectorColour(name)) === 'blue';
    });
    const blue = await getJson('deployment', ns, `${name}-gateway-blue`);
    expect(blue.spec.replicas).toBe(3);
    await waitFor(
      'HPA on blue',
      async () =>
        (await getJson('horizontalpodautoscaler', ns, `${name}-gateway`))?.spec.scaleTargetRef.name ===
        `${name}-gateway-blue`,
    );

    m.spec.upgradeStrategy = { type: 'Rolling' };
    await applyManifest(m);
    await waitFor('colour Deployments gone, Service on every gateway pod', async () => {
      const b = await getJson('deployment', ns, `${name}-gateway-blue`);
      const svc = await getJson('service', ns, `${name}-gateway`);
      return !b && svc && !svc.spec.selector['flashsale.dev/colour'];
    });
    const back = await getJson('deployment', ns, `${name}-gateway`);
    expect(back.spec.replicas).toBe(3);
    expect((await getJson('flashsale', ns, name)).status.rollout).toBeUndefined();
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
    await waitReady(ns, name);
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
        ].map(async ([k, n]) => (await getJson(k as string, ns, n as string))?.metadata?.uid),
      );
    const before = await uids();

    // helm upgrade: the old pod stops (finishes its reconciles, releases the Lease), the new one leads at once
    await op.stop();
    const handedOver = Date.now();
    op = await startTestOperator({ namespace: ns, identity: 'operator-v2' });
    expect(await plugin('promote', name)).toContain('flashsale.dev/promote=');
    await waitRollout(
      name,
      (r) => r.phase === 'Promoted' && r.activeColour === 'green',
      'promoted by the new operator',
    );
    expect(Date.now() - handedOver).toBeLessThan(15_000);
    expect(await uids()).toEqual(before);
    expect(await selectorColour(name)).toBe('green');
  });
});
