/**
 * High availability on the real control plane: two replicas never both reconcile (Lease), a standby takes over when
 * the leader stops or is killed mid-reconcile, and an API server outage in the middle of reconciles heals (the
 * outage is a TCP proxy between this test's operator and the shared API server, cut and restored).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditItem } from '@flashsale/common';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CuttableProxy } from '../../e2e/operator/cuttable-proxy.ts';
import { eventually } from '../../e2e/support/wait.ts';
import type { OperatorHandle } from '../src/operator.ts';
import {
  applyManifest,
  exampleSale,
  getJson,
  ROOT,
  redisClient,
  services,
  startTestOperator,
  tryKubectl,
  uniq,
  useTestOperator,
  waitReady,
} from './support.ts';

// the namespace only: each test starts its own replicas (in-process handles and a child process)
const env = useTestOperator('op-ha', { operator: false });
const r = redisClient();
const handles: OperatorHandle[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(handles.map((h) => h.stop()));
  r.disconnect();
});

async function start(identity: string, lease: string, extraEnv: Record<string, string> = {}) {
  const h = await startTestOperator({ namespace: env.ns, identity, leaseName: lease, env: extraEnv });
  handles.push(h);
  return h;
}

describe('leader election', () => {
  it('two replicas never both reconcile; the standby takes over when the leader stops', async () => {
    const lease = uniq('lease');
    const a = await start('replica-a', lease);
    const b = await start('replica-b', lease);
    let both = 0;
    let overlap = 0;
    const probe = setInterval(() => {
      if (a.isLeader() && b.isLeader()) both++;
      if (a.controller.inFlight.size > 0 && b.controller.inFlight.size > 0) overlap++;
    }, 20);
    try {
      const leader = await eventually('one leader', async () => (a.isLeader() ? a : b.isLeader() ? b : null), 15_000);
      const standby = leader === a ? b : a;
      const name = uniq('ha');
      const m = exampleSale(name, env.ns);
      await applyManifest(m);
      await waitReady(env.ns, name);
      expect(await leader.metrics.count()).toBeGreaterThan(0);
      expect(await standby.metrics.count()).toBe(0);
      const leaseObj = JSON.parse((await tryKubectl(['-n', env.ns, 'get', 'lease', lease, '-o', 'json'])).out);
      expect(leaseObj.spec.holderIdentity).toBe(leader.identity);

      await leader.stop(); // releases the lease
      await eventually('the standby to lead', async () => standby.isLeader(), 15_000);
      m.spec.items[0].quantity = 650;
      await applyManifest(m);
      await eventually(
        'the new leader to apply the restock',
        async () => (await auditItem(r, name, 'console-x')).initial === 650,
      );
      expect(await standby.metrics.count()).toBeGreaterThan(0);
      expect(both).toBe(0);
      expect(overlap).toBe(0);
      await standby.stop();
    } finally {
      clearInterval(probe);
    }
  });

  it('a leader killed mid-reconcile (SIGKILL) is replaced and the sale converges without double seeding', async () => {
    const lease = uniq('lease');
    const { kube } = services();
    const child = spawn(process.execPath, [join(ROOT, 'operator/src/main.ts')], {
      env: {
        ...process.env,
        KUBECONFIG: kube.kubeconfig,
        LOG_LEVEL: 'silent',
        WATCH_NAMESPACE: env.ns,
        METRICS_PORT: '-1',
        LEASE_NAMESPACE: env.ns,
        LEASE_NAME: lease,
        LEASE_DURATION: '4s',
        RENEW_DEADLINE: '3s',
        RETRY_PERIOD: '500ms',
        POD_NAME: 'child',
      },
      stdio: 'ignore',
    });
    children.push(child);
    await eventually(
      'the child to hold the lease',
      async () => {
        const l = await tryKubectl(['-n', env.ns, 'get', 'lease', lease, '-o', 'jsonpath={.spec.holderIdentity}']);
        return l.ok && l.out === 'child';
      },
      20_000,
    );
    const standby = await start('standby', lease);
    const name = uniq('kill');
    const m = exampleSale(name, env.ns);
    await applyManifest(m);
    // kill as soon as the child has started working on the sale (its first child object exists)
    await eventually(
      'the child to start reconciling',
      async () => (await getJson('configmap', env.ns, `${name}-config`)) !== null,
      20_000,
      20,
    );
    child.kill('SIGKILL');
    await eventually('the standby to lead', async () => standby.isLeader(), 15_000);
    const fs = await waitReady(env.ns, name);
    expect(fs.status.phase).toBe('Live');
    for (const it of m.spec.items as { id: string; quantity: number }[]) {
      expect(await auditItem(r, name, it.id)).toMatchObject({ initial: it.quantity, remaining: it.quantity, drift: 0 });
    }
    await standby.stop();
  });
});

describe('API server outage', () => {
  it('reconciles interrupted by an API server outage converge once it is back', async () => {
    const { kube } = services();
    const url = new URL(kube.server);
    const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port) });
    await proxy.open();
    const kc = parse(readFileSync(kube.kubeconfig, 'utf8'));
    for (const c of kc.clusters) c.cluster.server = `https://127.0.0.1:${proxy.port}`;
    const path = join(tmpdir(), `${uniq('kubeconfig')}.yaml`);
    writeFileSync(path, stringify(kc));
    const op = await start('outage', uniq('lease'), { KUBECONFIG: path });
    await eventually('leadership', async () => op.isLeader(), 15_000);
    const name = uniq('out');
    const m = exampleSale(name, env.ns);
    await applyManifest(m);
    await eventually(
      'the first objects',
      async () => (await getJson('configmap', env.ns, `${name}-config`)) !== null,
      20_000,
      20,
    );
    await proxy.cut(); // mid-reconcile
    m.spec.items[0].quantity = 800;
    m.spec.gateway.image = 'example.org/flash-sale-engine:3.0.0';
    const errors = await op.metrics.count('error');
    await applyManifest(m); // lands while the operator cannot see the API server
    await eventually(
      'the operator to fail on the outage',
      async () => (await op.metrics.count('error')) > errors,
      20_000,
    );
    await proxy.open(proxy.port);
    await eventually(
      'convergence after the outage',
      async () => {
        const fs = await waitReady(env.ns, name, 30_000);
        const gw = await getJson('deployment', env.ns, `${name}-gateway`);
        return fs.status.items[0].quantity === 800 && gw.spec.template.spec.containers[0].image.endsWith(':3.0.0');
      },
      45_000,
    );
    expect((await auditItem(r, name, 'console-x')).initial).toBe(800);
    expect(await op.metrics.count('error')).toBeGreaterThan(0);
    await op.stop();
    await proxy.cut();
  });
});
