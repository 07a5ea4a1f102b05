/**
 * The real-node tests: the chart installed with its quick start (Redis and Kafka pods) in a namespace of their own,
 * the operator, gateway and processor as real pods from the locally built image, orders sent to the gateway's
 * ClusterIP Service from this machine (kube-proxy translates it), the books audited from the quick start's Redis
 * through its Service. Nothing here runs in-process: what users run in a cluster is what is tested.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from '@flashsale/common';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { parse } from 'yaml';
import { dirs } from '../../tools/harness/src/paths.ts';
import { CHART, ROOT, type RunResult, run, runOk } from '../packaging/support.ts';
import { auditRun, redisOf, StatusWatch } from '../support/audit.ts';
import { eventually, requireService } from '../support/services.ts';

// biome-ignore lint/suspicious/noExplicitAny: JSON from the API server, asserted on by the tests
export type Json = any;
export type SaleManifest = { apiVersion: string; kind: string; metadata: Json; spec: Json };

export const PRODUCT_IMAGE = 'ghcr.io/flash-sale-engine/flash-sale-engine';
export const PRODUCT_TAG = '0.1.0';
/** the same image under a second tag: a blue-green upgrade changes the pod template as a new release would */
export const NEXT_TAG = '0.1.0-next';

export interface RealCluster {
  ns: string;
  release: string;
  kubectl(args: string[], input?: string): Promise<string>;
  tryKubectl(args: string[], input?: string): Promise<RunResult>;
  helm(args: string[]): Promise<string>;
  /** `kubectl flashsale ...` as a user runs it */
  plugin(args: string[]): Promise<string>;
  /** ClusterIP:port of a Service of the namespace (its first port unless `port` is given) */
  serviceAddr(name: string, port?: number): Promise<string>;
  redis(): Promise<RedisClient>;
}

/**
 * One helm release with the quick start in a fresh namespace for the calling test file (PSA `restricted` enforced on
 * it, as a hardened cluster would), uninstalled with the namespace at the end.
 */
export interface RealClusterOptions {
  /** more `helm install` arguments (e.g. `--set serviceMonitor.interval=5s`) */
  helmArgs?: string[];
}

export function useRealCluster(prefix: string, opts: RealClusterOptions = {}): RealCluster {
  const kube = requireService('kube');
  requireService('node');
  const env = { ...process.env, KUBECONFIG: kube.kubeconfig };
  const ns = `${prefix}-${randomUUID().slice(0, 6)}`;
  // cluster-scoped objects (ClusterRole, ClusterRoleBinding) carry the release name: one per test file
  const release = ns;
  const opened: RedisClient[] = [];
  const c: RealCluster = {
    ns,
    release,
    kubectl: (args, input) =>
      runOk(kube.kubectl, ['-n', ns, ...args], { env, timeoutMs: 300_000, ...(input === undefined ? {} : { input }) }),
    tryKubectl: (args, input) =>
      run(kube.kubectl, ['-n', ns, ...args], { env, ...(input === undefined ? {} : { input }) }),
    helm: (args) => runOk(kube.helm, [...args, '-n', ns], { env, timeoutMs: 600_000 }),
    plugin: (args) => runOk(process.execPath, [join(ROOT, 'cli/src/kubectl.ts'), ...args, '-n', ns], { env }),
    async serviceAddr(name, port) {
      const svc = JSON.parse(await c.kubectl(['get', 'service', name, '-o', 'json']));
      return `${svc.spec.clusterIP}:${port ?? svc.spec.ports[0].port}`;
    },
    async redis() {
      const r = redisOf(await c.serviceAddr('redis-service', 6379));
      opened.push(r);
      return r;
    },
  };

  beforeAll(async () => {
    await runOk(kube.kubectl, ['apply', '-f', '-'], {
      env,
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: ns,
          labels: {
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'latest',
          },
        },
      }),
    });
    // the CRD as users apply it by hand: other test files install the chart's CRD path at the same time
    await runOk(
      kube.kubectl,
      ['apply', '--server-side', '--force-conflicts', '--field-manager=real-node-test', '-f', join(ROOT, 'crds')],
      { env },
    );
    await c.helm([
      'install',
      release,
      CHART,
      '--set',
      'quickstart.enabled=true',
      '--set',
      'crds.enabled=false',
      '--set',
      'tests.enabled=false',
      // this file's operator reconciles this namespace only: test files run side by side, and operators watching
      // every namespace (each with its own lease) would all reconcile every file's sales, in different builds when
      // the work tree changed between two files' installs
      '--set',
      `operator.watchNamespace=${ns}`,
      ...(opts.helmArgs ?? []),
      '--wait',
      '--timeout',
      '420s',
    ]);
  }, 480_000);

  let failed = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });

  afterAll(async () => {
    for (const r of opened) r.disconnect();
    // the pods' logs go with the namespace: kept where the harness keeps its own when a test of the file failed
    if (failed) await saveNamespace(c).catch((e) => console.log(`[cluster] logs of ${ns} not saved: ${e}`));
    await run(kube.helm, ['uninstall', release, '-n', ns, '--wait', '--timeout', '120s'], { env, timeoutMs: 150_000 });
    await run(kube.kubectl, ['delete', 'namespace', ns, '--wait=false'], { env });
  }, 180_000);

  return c;
}

/**
 * Every container's log (and its previous one after a restart), the pods and the events of the namespace, into
 * `$FSE_HOME/run/logs/cluster-<namespace>/`: what is left to read after a failed CI run.
 */
async function saveNamespace(c: RealCluster): Promise<void> {
  const dir = join(dirs.logs, `cluster-${c.ns}`);
  mkdirSync(dir, { recursive: true });
  const pods = await c.tryKubectl(['get', 'pods', '-o', 'json']);
  writeFileSync(join(dir, 'pods.json'), pods.stdout);
  writeFileSync(join(dir, 'events.txt'), (await c.tryKubectl(['get', 'events', '--sort-by=.lastTimestamp'])).stdout);
  for (const pod of ((JSON.parse(pods.stdout || '{}') as Json).items ?? []) as Json[]) {
    for (const cs of (pod.status?.containerStatuses ?? []) as Json[]) {
      const name = `${pod.metadata.name}_${cs.name}`;
      const now = await c.tryKubectl(['logs', '--tail=3000', pod.metadata.name, '-c', cs.name]);
      writeFileSync(join(dir, `${name}.log`), now.stdout + now.stderr);
      if (cs.restartCount) {
        const prev = await c.tryKubectl(['logs', '--previous', '--tail=3000', pod.metadata.name, '-c', cs.name]);
        writeFileSync(join(dir, `${name}.previous.log`), prev.stdout + prev.stderr);
      }
    }
  }
  console.log(`[cluster] a test failed: the logs of namespace ${c.ns} are in ${dir}`);
}

/** examples/quickstart-sale.yaml under another name, changed by `mutate` (small pods: one 2-core node runs it all). */
export function quickstartSale(name: string, mutate?: (m: SaleManifest) => void): SaleManifest {
  const m = parse(readFileSync(join(ROOT, 'examples/quickstart-sale.yaml'), 'utf8')) as SaleManifest;
  m.metadata.name = name;
  mutate?.(m);
  return m;
}

export async function getSale(c: RealCluster, name: string): Promise<Json> {
  return JSON.parse(await c.kubectl(['get', 'flashsale', name, '-o', 'json']));
}

export const condition = (fs: Json, type: string) =>
  (fs?.status?.conditions ?? []).find((x: { type: string }) => x.type === type);

/** Applies the sale and waits until it is Ready (children available, inventory seeded, topics created). */
export async function applyAndWaitReady(c: RealCluster, m: SaleManifest, timeoutMs = 240_000): Promise<Json> {
  await c.kubectl(['apply', '-f', '-'], JSON.stringify(m));
  return eventually(
    `FlashSale ${m.metadata.name} Ready`,
    async () => {
      const fs = await getSale(c, m.metadata.name);
      return condition(fs, 'Ready')?.status === 'True' ? fs : false;
    },
    timeoutMs,
  ).catch(async (e) => {
    const fs = await getSale(c, m.metadata.name).catch(() => undefined);
    const pods = await c.tryKubectl(['get', 'pods', '-o', 'wide']);
    const crashes = await crashReport(c);
    throw new Error(
      `${(e as Error).message}${crashes.line}\nstatus: ${JSON.stringify(fs?.status)}\npods:\n${pods.stdout}${crashes.logs}`,
    );
  });
}

/**
 * The namespace's restarted containers, for a test that timed out waiting on them: `line` (one line, for the first
 * line of an error, which is what a CI summary shows) names each with its restarts, last exit and last log line;
 * `logs` has the tail of each one's previous log. The logs go with the namespace, so this is the only record.
 */
export async function crashReport(c: RealCluster): Promise<{ line: string; logs: string }> {
  const r = await c.tryKubectl(['get', 'pods', '-o', 'json']);
  if (r.code !== 0) return { line: '', logs: '' };
  const parts: string[] = [];
  let logs = '';
  for (const pod of (JSON.parse(r.stdout) as Json).items as Json[]) {
    for (const cs of (pod.status?.containerStatuses ?? []) as Json[]) {
      if (!cs.restartCount) continue;
      const last = cs.lastState?.terminated ?? {};
      const prev = await c.tryKubectl(['logs', '--previous', '--tail=15', pod.metadata.name, '-c', cs.name]);
      const tail = prev.stdout.trimEnd().split('\n');
      parts.push(
        `${pod.metadata.name}/${cs.name} restarted ${cs.restartCount}x (exit ${last.exitCode ?? '?'} ${last.reason ?? ''}): ${(tail.at(-1) ?? '').slice(0, 300)}`,
      );
      logs += `\n--- previous log of ${pod.metadata.name}/${cs.name}\n${tail.join('\n')}`;
    }
  }
  return { line: parts.length ? `; restarts: ${parts.join('; ')}` : '', logs };
}

/** Pods of a sale's component (gateway or processor), from the API server. */
export async function podsOf(c: RealCluster, sale: string, component: 'gateway' | 'processor'): Promise<Json[]> {
  const out = await c.kubectl([
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/instance=${sale},app.kubernetes.io/component=${component}`,
    '-o',
    'json',
  ]);
  return JSON.parse(out).items;
}

/** Every accepted order final and the books right: 0 oversold, 0 lost, 0 confirmed twice, 0 drift. */
export async function auditCluster(
  c: RealCluster,
  sale: string,
  accepted: Map<string, string>,
  watch?: StatusWatch,
  waitFinalMs = 120_000,
) {
  return auditRun({ redis: await c.redis(), sale, accepted, watch, waitFinalMs });
}

/** A status watch on the quick start's Redis (every CONFIRMED transition of the sale's orders). */
export async function watchStatus(c: RealCluster, sale: string): Promise<StatusWatch> {
  return new StatusWatch(await c.serviceAddr('redis-service', 6379), sale).start();
}
