/**
 * The operator's informer wrapper (ManagedInformer) against an API server that cannot be reached and against the
 * real one: synced only after a list really returned (/readyz), failingSince kept across failed retries (the
 * /healthz check of a stuck watch) and cleared by a restart that reaches the server. client-node emits `connect`
 * before each attempt, also before one that fails: counting on it broke both.
 */
import { createLogger } from '@flashsale/common';
import { AppsV1Api, KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CuttableProxy } from '../../e2e/operator/cuttable-proxy.ts';
import { eventually } from '../../e2e/support/wait.ts';
import { ManagedInformer } from '../src/kube/informer.ts';
import { services, uniq } from './support.ts';

const log = createLogger('operator', 'silent');
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

/** A kubeconfig for the shared API server's admin, reaching it through `port` on loopback. */
function kubeConfigVia(port: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(services().kube.kubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the harness kubeconfig has no current cluster');
  kc.clusters = kc.clusters.map((c) =>
    c.name === cluster.name ? { ...c, server: `https://127.0.0.1:${port}`, skipTLSVerify: true } : c,
  );
  return kc;
}

/** A Deployment informer in a namespace nobody uses (an empty list: read-only on the shared server). */
function deploymentInformer(kc: KubeConfig): ManagedInformer<V1Deployment> {
  const ns = uniq('no-such-ns');
  const apps = kc.makeApiClient(AppsV1Api);
  const inf = new ManagedInformer<V1Deployment>(
    kc,
    'deployments',
    `/apis/apps/v1/namespaces/${ns}/deployments`,
    () => apps.listNamespacedDeployment({ namespace: ns }),
    {},
    log,
  );
  cleanup.push(() => inf.stop());
  return inf;
}

describe('ManagedInformer', () => {
  it('unreachable API server: never synced, failing since the first error, retried with backoff', async () => {
    const proxy = new CuttableProxy({ host: '127.0.0.1', port: Number(new URL(services().kube.server).port) });
    await proxy.open();
    await proxy.cut(); // a loopback port that refuses connections
    const inf = deploymentInformer(kubeConfigVia(proxy.port));
    await inf.start();
    expect(inf.synced).toBe(false);
    const since = inf.failingSince;
    expect(since).toBeTypeOf('number');
    await eventually('two retries after the first error', async () => inf.restarts >= 3, 10_000, 50);
    expect(inf.synced).toBe(false); // /readyz must not say ok
    expect(inf.failingSince).toBe(since); // a retry that fails again does not reset the stuck clock (/healthz)

    // the server becomes reachable: the next restart lists, and the informer is healthy and synced
    await proxy.open(proxy.port);
    cleanup.push(() => proxy.cut());
    await eventually('synced after the server is back', async () => inf.synced, 20_000, 50);
    expect(inf.failingSince).toBeUndefined();
  });

  it('reachable API server: synced by the first list, not failing', async () => {
    const inf = deploymentInformer(kubeConfigVia(Number(new URL(services().kube.server).port)));
    await inf.start();
    expect(inf.synced).toBe(true);
    expect(inf.failingSince).toBeUndefined();
    expect(inf.restarts).toBe(0);
    expect(inf.list()).toEqual([]);
  });
});
