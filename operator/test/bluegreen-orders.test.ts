/**
 * Orders during a blue-green switch, with the data plane as local processes (kwok pods run nothing): each colour
 * Deployment with replicas > 0 is "its pods" = one real gateway process started with that Deployment's environment
 * (the sale's ConfigMap plus the container env); a colour going to 0 replicas gets SIGTERM (the graceful drain).
 * Clients send every order to the process of the colour the gateway Service selects at that moment. kwok marks pods
 * Ready at once, before a process could be up, so the readiness gate is played by the test: the rollout runs with
 * autoPromote false, and is promoted (by annotation) once the preview's process answers /ready.
 * Expected: no order fails (every answer a 202), both colours served orders, and the old one was drained.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type Proc, startGateway } from '../../e2e/support/procs.ts';
import { eventually, sleep } from '../../e2e/support/wait.ts';
import {
  applyManifest,
  exampleSale,
  getJson,
  type Json,
  kubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

const env = useTestOperator('op-bgo');
const procs = new Map<string, Proc>();

afterAll(async () => {
  await Promise.all([...procs.values()].map((p) => p.stop(10_000)));
});

/** The environment a colour's pods get: envFrom the ConfigMap, then the container's plain env. */
async function podEnv(sale: string, deployment: Json): Promise<Record<string, string>> {
  const cm = await getJson('configmap', env.ns, `${sale}-config`);
  const vars: Record<string, string> = { ...(cm?.data ?? {}) };
  for (const e of deployment.spec.template.spec.containers[0].env ?? [])
    if (e.value !== undefined) vars[e.name] = e.value;
  delete vars.PORT;
  return { ...vars, RATE_LIMIT_ENABLED: 'false', LOG_LEVEL: 'warn' };
}

describe('orders through the Service selection during a blue-green switch', () => {
  it('no failed order; the old colour drains after the scale-down delay', async () => {
    const name = uniq('bgo');
    const m = exampleSale(name, env.ns, (x) => {
      x.spec.autoscaling.enabled = false;
      x.spec.items[0].quantity = 100_000; // never sold out during the test
      x.spec.gateway.replicas = 1;
      x.spec.processor.replicas = 1;
      x.spec.upgradeStrategy = {
        type: 'BlueGreen',
        scaleDownDelaySeconds: 2,
        progressDeadlineSeconds: 120,
        autoPromote: false,
      };
    });
    await applyManifest(m);
    await waitReady(env.ns, name);
    const itemId = m.spec.items[0].id as string;

    // "kubelet": one process per colour with replicas > 0; SIGTERM when it goes to 0
    let shimStop = false;
    const drained: string[] = [];
    const shim = (async () => {
      while (!shimStop) {
        for (const colour of ['blue', 'green']) {
          const d = await getJson('deployment', env.ns, `${name}-gateway-${colour}`);
          const want = (d?.spec?.replicas ?? 0) > 0;
          const p = procs.get(colour);
          if (want && !p) {
            const started = await startGateway(await podEnv(name, d));
            procs.set(colour, started);
          } else if (!want && p) {
            procs.delete(colour);
            await p.stop(20_000);
            drained.push(colour);
          }
        }
        await sleep(200);
      }
    })();
    await eventually('blue process ready', async () => procs.has('blue'), 60_000);
    await eventually(
      'blue /ready',
      async () => (await fetch(`${procs.get('blue')?.url}/ready`)).status === 200,
      30_000,
    );

    // the Service's selection, refreshed every 100 ms (what kube-proxy would route to)
    let selected = 'blue';
    let clientsStop = false;
    const refresher = (async () => {
      while (!clientsStop) {
        const svc = await getJson('service', env.ns, `${name}-gateway`);
        selected = svc?.spec?.selector?.['flashsale.dev/colour'] ?? selected;
        await sleep(100);
      }
    })();
    const answers: { colour: string; status: number; error?: string }[] = [];
    const client = async (c: number) => {
      let i = 0;
      while (!clientsStop) {
        const colour = selected;
        const url = procs.get(colour)?.url;
        if (!url) {
          answers.push({ colour, status: 0, error: `no process for the selected colour ${colour}` });
        } else {
          try {
            const r = await fetch(`${url}/v1/orders`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
              body: JSON.stringify({ user_id: `c${c}-${i++}`, item_id: itemId, quantity: 1 }),
              signal: AbortSignal.timeout(10_000),
            });
            await r.arrayBuffer();
            answers.push({ colour, status: r.status });
          } catch (e) {
            answers.push({ colour, status: 0, error: (e as Error).message });
          }
        }
        await sleep(40);
      }
    };
    const clients = Promise.all([client(1), client(2)]);
    const served = (colour: string) => answers.filter((a) => a.colour === colour && a.status === 202).length;
    await eventually('orders served by blue before the upgrade', () => served('blue') >= 10, 30_000, 50);

    // upgrade: green is created, its process started by the shim; promote once it answers /ready
    m.spec.gateway.image = 'example.org/flash-sale-engine:2.0.0';
    await applyManifest(m);
    await eventually('rollout paused before promotion', async () => {
      const fs = await getJson('flashsale', env.ns, name);
      return fs?.status?.rollout?.phase === 'Paused';
    });
    await eventually(
      'green process ready',
      async () => {
        const url = procs.get('green')?.url;
        return url ? (await fetch(`${url}/ready`)).status === 200 : false;
      },
      60_000,
    );
    await kubectl(['-n', env.ns, 'annotate', 'flashsale', name, `flashsale.dev/promote=${new Date().toISOString()}`]);
    await eventually('blue drained', async () => drained.includes('blue'), 40_000);
    const greenAtDrain = served('green');
    await eventually('orders served by green after the drain', () => served('green') >= greenAtDrain + 10, 30_000, 50);
    clientsStop = true;
    await clients;
    await refresher;
    shimStop = true;
    await shim;

    const failed = answers.filter((a) => a.status !== 202);
    expect(failed, JSON.stringify(failed.slice(0, 5))).toEqual([]);
    expect(answers.filter((a) => a.colour === 'blue').length).toBeGreaterThan(5);
    expect(answers.filter((a) => a.colour === 'green').length).toBeGreaterThan(5);
    expect(selected).toBe('green');
  });
});
