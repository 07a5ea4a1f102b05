/** Helpers of the blue-green e2e tests (operator/test/bluegreen*.test.ts). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { beforeAll } from 'vitest';
import { eventually, sleep } from '../../e2e/support/wait.ts';
import type { OperatorHandle } from '../src/operator.ts';
import {
  eventsOf,
  exampleSale,
  getJson,
  type Json,
  type Manifest,
  ROOT,
  services,
  useTestOperator,
} from './support.ts';

/** The kubectl plugin (`kubectl flashsale ...`), as a user runs it. */
export async function plugin(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [`${ROOT}/cli/src/kubectl.ts`, ...args, '-n', bg.ns], {
    env: { ...process.env, KUBECONFIG: services().kube.kubeconfig },
  });
  return stdout;
}

/** The test file's namespace, operator and core client (one per test file: vitest isolates files). */
export const bg = {} as { ns: string; op: OperatorHandle; core: CoreV1Api };

/** useTestOperator (a namespace and an in-process operator confined to it) plus a core client, in `bg`. */
export function useBlueGreenNamespace(prefix: string): void {
  const env = useTestOperator(prefix);
  beforeAll(() => {
    bg.ns = env.ns;
    bg.op = env.op;
    const kc = new KubeConfig();
    kc.loadFromFile(services().kube.kubeconfig);
    bg.core = kc.makeApiClient(CoreV1Api);
  });
}

export function blueGreenSale(name: string, mutate?: (m: Manifest) => void): Manifest {
  return exampleSale(name, bg.ns, (m) => {
    m.spec.upgradeStrategy = { type: 'BlueGreen', scaleDownDelaySeconds: 2, progressDeadlineSeconds: 12 };
    mutate?.(m);
  });
}

export const rollout = async (name: string) => (await getJson('flashsale', bg.ns, name))?.status?.rollout ?? {};

export function waitRollout(name: string, pred: (r: Json) => boolean, what: string, timeoutMs = 45_000) {
  return eventually(
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
export async function readySelected(name: string): Promise<number> {
  const svc = await getJson('service', bg.ns, `${name}-gateway`);
  const sel = Object.entries(svc?.spec?.selector ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (!sel) return 0;
  const pods = await bg.core.listNamespacedPod({ namespace: bg.ns, labelSelector: sel });
  return pods.items.filter(
    (p: V1Pod) =>
      !p.metadata?.deletionTimestamp &&
      (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

/** Samples the Service's ready selection until stopped; returns every sample. */
export function sampleSelection(name: string) {
  const samples: number[] = [];
  let stop = false;
  const done = (async () => {
    while (!stop) {
      samples.push(await readySelected(name));
      await sleep(150);
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

export const selectorColour = async (name: string) =>
  (await getJson('service', bg.ns, `${name}-gateway`))?.spec?.selector?.['flashsale.dev/colour'];

export async function warnings(name: string): Promise<string[]> {
  return (await eventsOf(bg.ns, name)).filter((e) => e.type === 'Warning').map((e) => e.reason);
}
