/**
 * The operator against a REAL API server that fails: each test starts a private etcd + kube-apiserver of its own
 * (tools/harness/src/private-apiserver.ts; the shared control plane is never touched) and breaks it.
 *
 * 1. The API server SIGKILLed in the middle of a reconcile, the spec changed right after it is back, a second
 *    replica started while it is down: the operator process neither exits nor crash-loops, reconnects by itself
 *    and converges to the new spec (children, status, inventory).
 * 2. A watch that expires (410 Gone): the operator is partitioned from the API server (TCP proxy), the sale is edited
 *    meanwhile and etcd is compacted past the operator's resourceVersion; when the partition heals the watch must
 *    resume from a compacted revision, get 410, relist, and the informer must deliver the missed edit.
 *
 * The private API servers run no controller-manager, so Deployments never become available: convergence is
 * judged on observedGeneration, status.items, the children's specs and the seeded inventory, not on Ready.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { auditItem, createRedis, type RedisClient } from '@flashsale/common';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../operator/src/config.ts';
import { type OperatorHandle, startOperator } from '../../operator/src/operator.ts';
import { condition, exampleSale, type Json, type Manifest, services } from '../../operator/test/support.ts';
import { PrivateApiServer } from '../../tools/harness/src/private-apiserver.ts';
import { assertBooks, auditRun } from '../support/audit.ts';
import { Proc, ROOT } from '../support/procs.ts';
import { recordFault } from '../support/report.ts';
import { eventually, expectStable, freePort } from '../support/wait.ts';
import { CuttableProxy } from './cuttable-proxy.ts';

const OPERATOR_MAIN = join(ROOT, 'operator/src/main.ts');
const CRDS = join(ROOT, 'crds');

/** What a test started, stopped (last first) when the test ends, passed or failed; afterAll is the safety net. */
const cleanup: (() => Promise<unknown> | unknown)[] = [];
async function runCleanup() {
  for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
}
afterAll(runCleanup);

let redis: RedisClient | undefined;
afterAll(() => redis?.disconnect());
function redisClient(): RedisClient {
  if (!redis) {
    const r = services().redis;
    redis = createRedis({ mode: 'single', nodes: [{ host: r.host, port: r.port }] });
  }
  return redis;
}

const short = () => randomUUID().slice(0, 8);

async function startServer(label: string, apiserverArgs: string[] = []): Promise<PrivateApiServer> {
  const srv = await PrivateApiServer.start({ label, manifests: [CRDS], apiserverArgs });
  cleanup.push(() => srv.stop());
  return srv;
}

async function getSale(srv: PrivateApiServer, ns: string, name: string): Promise<Json | null> {
  const r = await srv.get(`/apis/flashsale.dev/v1alpha1/namespaces/${ns}/flashsales/${name}`);
  return r.status === 200 ? JSON.parse(r.body) : null;
}

async function getObject(srv: PrivateApiServer, path: string): Promise<Json | null> {
  const r = await srv.get(path).catch(() => ({ status: 0, body: '' }));
  return r.status === 200 ? JSON.parse(r.body) : null;
}

const apply = (srv: PrivateApiServer, m: Manifest) => srv.kubectl(['apply', '-f', '-'], stringify(m));

/** The sale has been reconciled at its current generation, with `quantity` for its first item everywhere. */
async function converged(srv: PrivateApiServer, ns: string, name: string, quantity: number, image?: string) {
  const fs = await getSale(srv, ns, name);
  if (!fs || fs.status?.observedGeneration !== fs.metadata.generation) return false;
  if (fs.status.items?.[0]?.quantity !== quantity) return false;
  if (image) {
    const gw = await getObject(srv, `/apis/apps/v1/namespaces/${ns}/deployments/${name}-gateway`);
    if (!gw?.spec.template.spec.containers[0].image.endsWith(image)) return false;
  }
  return (await auditItem(redisClient(), name, fs.spec.items[0].id)).initial === quantity ? fs : false;
}

/** Successful requests of one verb on flashsales (apiserver_request_total of this server process: reset on restart). */
async function requests(srv: PrivateApiServer, verb: string): Promise<number> {
  const r = await srv.get('/metrics');
  let n = 0;
  for (const line of r.body.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes('resource="flashsales"')) {
      const ok = line.includes('code="200"') && line.includes('subresource=""');
      if (ok && line.includes(`verb="${verb}"`)) n += Number(line.split(' ').pop());
    }
  }
  return n;
}

function operatorEnv(kubeconfig: string, ns: string, identity: string, port: number): Record<string, string> {
  return {
    KUBECONFIG: kubeconfig,
    LOG_LEVEL: 'info',
    WATCH_NAMESPACE: ns,
    METRICS_PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    LEASE_NAMESPACE: ns,
    LEASE_NAME: 'flashsale-operator',
    // long enough to ride through the outage: a leader that cannot renew within RENEW_DEADLINE exits on purpose
    // (controller-runtime's behaviour; a restart makes it a standby). This test is about the same process recovering.
    LEASE_DURATION: '60s',
    RENEW_DEADLINE: '45s',
    RETRY_PERIOD: '2s',
    POD_NAME: identity,
  };
}

const count = (out: string, event: string) => out.split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;

describe('the operator and a real API server that fails', () => {
  it('API server SIGKILLed mid-reconcile, spec changed right after: no crash, reconnects, converges', async () => {
    onTestFinished(runCleanup);
    const srv = await startServer('op-restart');
    const ns = `op-fault-${short()}`;
    await srv.kubectl(['create', 'namespace', ns]);
    const procs: Proc[] = [];
    cleanup.push(() => Promise.all(procs.map((p) => p.kill())));
    const port = await freePort();
    const a = new Proc('operator-a', OPERATOR_MAIN, operatorEnv(srv.kubeconfig, ns, 'op-a', port), port);
    procs.push(a);
    await a.waitHealthy('/readyz', 20_000);
    const pid = a.child.pid;

    const name = `t-${short()}`;
    const m = exampleSale(name, ns);
    await apply(srv, m);
    // SIGKILL as soon as the operator is working on the sale (its first child object exists)
    await eventually(
      'the first child object',
      async () => (await getObject(srv, `/api/v1/namespaces/${ns}/configmaps/${name}-config`)) !== null,
      20_000,
      20,
    );
    const [gatewayBefore, saleBefore] = await Promise.all([
      getObject(srv, `/apis/apps/v1/namespaces/${ns}/deployments/${name}-gateway`),
      getSale(srv, ns, name),
    ]);
    const killedAt = Date.now();
    await srv.killApiserver();

    // a second replica started while the API server is down must wait, not crash-loop
    const portB = await freePort();
    const b = new Proc('operator-b', OPERATOR_MAIN, operatorEnv(srv.kubeconfig, ns, 'op-b', portB), portB);
    procs.push(b);
    await b.waitHealthy('/healthz', 20_000);
    // alive, but not ready: its caches have never been filled (client-node's `connect` is no proof of that)
    const bReady = await fetch(`${b.url}/readyz`, { signal: AbortSignal.timeout(2000) });
    expect(bReady.status, await bReady.text()).toBe(503);
    // the leader rides out 4 s of outage without exiting
    await expectStable(() => expect(a.alive, a.tail()).toBe(true), Math.max(0, 4000 - (Date.now() - killedAt)));

    const startMs = await srv.startApiserver();
    const backAt = Date.now();
    const awayMs = backAt - killedAt;
    m.spec.items[0].quantity = 800;
    m.spec.gateway.image = 'example.org/flash-sale-engine:3.0.0';
    await apply(srv, m); // right after the restart, before the operator has necessarily reconnected
    const fs = await eventually('convergence to the new spec', () => converged(srv, ns, name, 800, ':3.0.0'), 60_000);
    const recoveryMs = Date.now() - backAt;

    expect(fs.status.items[0].quantity).toBe(800);
    // this API server serves no monitoring.coreos.com/v1: the sale runs on, the condition says why
    expect(condition(fs, 'MonitoringReady')).toMatchObject({
      status: 'False',
      reason: 'PrometheusOperatorNotInstalled',
    });
    // the same process reconnected: never exited, still leads; the replica started during the outage stands by
    expect(a.alive, a.tail()).toBe(true);
    expect(a.child.pid).toBe(pid);
    expect(b.alive, b.tail()).toBe(true);
    const lease = await getObject(srv, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/flashsale-operator`);
    expect(lease?.spec.holderIdentity).toBe('op-a');
    await a.waitHealthy('/readyz', 30_000);
    await b.waitHealthy('/readyz', 45_000);
    expect(a.output).not.toMatch(/Unhandled|Uncaught/);
    expect(count(a.output, 'leader_lost')).toBe(0);
    const informerErrors = count(a.output, 'informer_error');
    expect(informerErrors).toBeGreaterThan(0); // it really lost its watches and restarted them by itself
    const relists = await requests(srv, 'LIST');

    const audit = await auditRun({ redis: redisClient(), sale: name, accepted: new Map() });
    assertBooks(audit);
    expect(audit.audits.find((x) => x.itemId === m.spec.items[0].id)).toMatchObject({ initial: 800, remaining: 800 });
    await recordFault(
      {
        scenario: 'operator-apiserver-sigkill',
        fault: 'kube-apiserver SIGKILLed mid-reconcile, started again after 4 s (same etcd); spec changed right after',
        faults: 1,
        inFlight: 0,
        recoveryMs,
        recoveryOf: 'API server ready -> new spec in children, status and inventory',
        refused: {},
        notes:
          `operator process ${pid} never exited; SIGKILL when the first reconcile had applied the ConfigMap ` +
          `${gatewayBefore ? 'and the gateway Deployment' : 'but no Deployment yet'}, ` +
          `${saleBefore?.status?.observedGeneration ? 'status already written' : 'no status written yet'}; ` +
          `API server away ${(awayMs / 1000).toFixed(1)} s (its restart took ${(startMs / 1000).toFixed(1)} s); ` +
          `${informerErrors} informer restarts logged; ` +
          `${relists} successful LIST(s) of flashsales on the restarted API server (the standby's first list; a second ` +
          "one is the leader's relist after 410 Gone: whether its resumed watch gets 410 here depends on timing, the " +
          '410 scenario forces it); ' +
          `${count(a.output, 'reconcile_error')} failed reconcile(s) retried; a second replica started during the ` +
          'outage stayed up as a standby; no orders in this scenario (the audit is the seeded inventory: 800 units, drift 0).',
        test: 'e2e/operator/apiserver-faults.test.ts',
      },
      audit,
    );
  }, 90_000);

  it('a watch resumed from a compacted resourceVersion gets 410 Gone, relists, and misses no edit', async () => {
    // no watch cache: every watch is served by etcd, so the compaction is what expires the operator's watch
    onTestFinished(runCleanup);
    const srv = await startServer('op-410', ['--watch-cache=false']);
    const ns = `op-410-${short()}`;
    await srv.kubectl(['create', 'namespace', ns]);
    const proxy = new CuttableProxy({ host: '127.0.0.1', port: srv.ports.apiserver });
    await proxy.open();
    cleanup.push(() => proxy.cut());
    const kubeconfig = join(srv.dir, 'kubeconfig-proxied');
    writeFileSync(kubeconfig, stringify(proxiedKubeconfig(srv, proxy.port)), { mode: 0o600 });
    const op: OperatorHandle = await startOperator(
      loadConfig({
        KUBECONFIG: kubeconfig,
        LOG_LEVEL: process.env.OPERATOR_TEST_LOG ?? 'silent',
        WATCH_NAMESPACE: ns,
        METRICS_PORT: '-1',
        LEADER_ELECT: 'false',
        // no periodic re-reads that could hide a missed event: only the informer may bring the edit
        RESYNC_PERIOD: '10m',
        STATUS_REFRESH: '10m',
        BACKOFF_BASE: '200ms',
        BACKOFF_MAX: '3s',
        DEPENDENCY_TIMEOUT: '1s',
      }),
    );
    cleanup.push(() => op.stop());
    const informer = op.controller.sales;
    const cached = (n: string, namespace: string) => informer.get(n, namespace) as Json | undefined;
    const rvOf = () =>
      (informer as unknown as { inf: { latestResourceVersion(): string } }).inf.latestResourceVersion();

    const name = `t-${short()}`;
    const m = exampleSale(name, ns);
    await apply(srv, m);
    await eventually('the first reconcile', () => converged(srv, ns, name, m.spec.items[0].quantity), 30_000);
    await eventually(
      'the informer to see the status write',
      async () =>
        cached(name, ns)?.metadata?.resourceVersion === (await getSale(srv, ns, name))?.metadata.resourceVersion,
      10_000,
    );
    const rvOp = Number(rvOf());
    expect(rvOp).toBeGreaterThan(0);
    const restartsBefore = informer.restarts;

    await proxy.cut(); // the operator's watches break; it cannot reach the API server
    const cutAt = Date.now();
    m.spec.items[0].quantity = 900;
    await apply(srv, m); // the edit the operator must not miss
    const edited = await getSale(srv, ns, name);
    // more writes, so that the compaction is past the revision right after the operator's too
    for (const i of [1, 2]) await srv.kubectl(['-n', ns, 'create', 'configmap', `churn-${i}`]);
    const compactedAt = await srv.compact();
    expect(await srv.isCompacted(rvOp + 1)).toBe(true);
    // what the operator's watch will be told: 410 Gone, as an ERROR event of the watch stream
    const direct = await srv.get(
      `/apis/flashsale.dev/v1alpha1/namespaces/${ns}/flashsales?watch=1&resourceVersion=${rvOp}&timeoutSeconds=2`,
    );
    expect(direct.body).toMatch(/"type":"ERROR"/);
    expect(direct.body).toMatch(/"code":410/);
    const listsBefore = await requests(srv, 'LIST');
    expect(cached(name, ns)?.metadata?.generation).not.toBe(edited.metadata.generation);

    await proxy.open(); // partition healed
    const healedAt = Date.now();
    await eventually(
      'the informer to deliver the missed edit',
      async () => cached(name, ns)?.metadata?.generation === edited.metadata.generation,
      45_000,
      50,
    );
    const seenMs = Date.now() - healedAt;
    const listsAfter = await requests(srv, 'LIST');
    expect(listsAfter).toBeGreaterThan(listsBefore); // the informer relisted (it resets its resourceVersion on 410 only)
    expect(Number(rvOf())).toBeGreaterThanOrEqual(compactedAt - 2);
    await eventually('convergence to the edit', () => converged(srv, ns, name, 900), 30_000);
    const recoveryMs = Date.now() - healedAt;
    expect(informer.synced).toBe(true);
    expect(op.controller.deployments.synced).toBe(true);

    const audit = await auditRun({ redis: redisClient(), sale: name, accepted: new Map() });
    assertBooks(audit);
    expect(audit.audits.find((x) => x.itemId === m.spec.items[0].id)).toMatchObject({ initial: 900, remaining: 900 });
    await recordFault(
      {
        scenario: 'operator-watch-410',
        fault: 'operator partitioned from the API server; sale edited and etcd compacted past its watch revision',
        faults: 1,
        inFlight: 0,
        recoveryMs,
        recoveryOf: 'partition healed -> edit in children, status and inventory',
        refused: {},
        notes:
          `watch revision ${rvOp}, etcd compacted at ${compactedAt} (API server without watch cache, so etcd serves ` +
          `the watch); partition ${((healedAt - cutAt) / 1000).toFixed(1)} s; a watch from ${rvOp} answers an ERROR ` +
          `event 410 Gone; the informer relisted (${listsAfter - listsBefore} LIST(s) of flashsales) and delivered ` +
          `the missed edit ${(seenMs / 1000).toFixed(1)} s after the partition healed, with resync and status refresh ` +
          `at 10 min (no periodic re-read could hide a miss); ${informer.restarts - restartsBefore} informer ` +
          'restart(s); no orders (the audit is the seeded inventory: 900 units, drift 0).',
        test: 'e2e/operator/apiserver-faults.test.ts',
      },
      audit,
    );
  }, 90_000);
});

function proxiedKubeconfig(srv: PrivateApiServer, port: number) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'private', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'admin', user: { token: srv.token } }],
    contexts: [{ name: 'private', context: { cluster: 'private', user: 'admin', namespace: 'default' } }],
    'current-context': 'private',
  };
}
