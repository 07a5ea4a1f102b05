/**
 * The chart and the real operator together: `helm install` (watching one namespace), then the operator process runs
 * with exactly the environment the chart's Deployment gives it and the chart's ServiceAccount as its identity (a
 * token from the TokenRequest API). A sample FlashSale (examples/flashsale.yaml, pointed at the harness's Redis and
 * Kafka) reaches Ready=True, and the operator's log shows no RBAC refusal: the chart's env names match the operator's
 * config and its Role grants enough.
 *
 * Why not in a pod: kwok fakes pods (no container runtime, no image), so the operator runs here as a local process
 * under the in-cluster identity instead. The gateway and processor Deployments it creates are kwok pods too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { saleAlertGroups } from '../../common/src/alerts.ts';
import { parseFlashSaleSpec } from '../../common/src/flashsale-spec.ts';
import { OPERATOR_METRICS } from '../../common/src/metrics.ts';
import { dashboardQueries } from '../../monitoring/dashboard.ts';
import { kwokNamespace } from '../../tools/harness/src/index.ts';
import { requireService } from '../support/services.ts';
import { eventually, freePort } from '../support/wait.ts';
import { CHART, fillVariables, promQuery, ROOT, run, runOk, startPrometheus } from './support.ts';

const kube = requireService('kube');
const { promtool } = requireService('prometheus');
const redis = requireService('redis');
const kafka = requireService('kafka');
const env = { ...process.env, KUBECONFIG: kube.kubeconfig };
const id = randomUUID().slice(0, 8);
const ns = `fsop-${id}`;
const saleNs = `fsop-${id}-s`;
const release = `fsop-${id}`;
const fullname = `${release}-flash-sale-operator`;
const saleName = `chart-${id}`;
const dir = mkdtempSync(join(tmpdir(), 'fse-chart-operator-'));
let operator: ChildProcess | undefined;
let prometheus: ChildProcess | undefined;
let operatorLog = '';
let metricsUrl = '';

const k = (args: string[], input?: string) =>
  runOk(kube.kubectl, args, { env, ...(input === undefined ? {} : { input }) });

function sampleSale() {
  const m = parse(readFileSync(join(ROOT, 'examples', 'flashsale.yaml'), 'utf8')) as {
    metadata: Record<string, unknown>;
    // biome-ignore lint/suspicious/noExplicitAny: the example manifest, edited for the harness
    spec: any;
  };
  m.metadata = { name: saleName, namespace: saleNs };
  m.spec.redis.addr = redis.addr;
  m.spec.kafka.brokers = kafka.brokers.join(',');
  m.spec.startsAt = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  m.spec.endsAt = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  m.spec.topics.partitions = 2;
  m.spec.deletionPolicy = 'Delete';
  return m;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

beforeAll(async () => {
  for (const n of [ns, saleNs]) await k(['apply', '-f', '-'], JSON.stringify(kwokNamespace(n)));
  // the CRD as users apply it by hand (crds.enabled=false below): chart-install.test.ts owns the chart's CRD path,
  // and two releases taking ownership of the one shared CRD in parallel would race
  await k(['apply', '--server-side', '--force-conflicts', '--field-manager=packaging-test', '-f', join(ROOT, 'crds')]);
  await k(['wait', '--for=condition=Established', 'crd/flashsales.flashsale.dev', '--timeout=30s']);
  await runOk(
    kube.helm,
    [
      'install',
      release,
      CHART,
      '-n',
      ns,
      '--set',
      'crds.enabled=false',
      '--set',
      `operator.watchNamespace=${saleNs}`,
      '--set',
      'operator.logLevel=info',
      '--wait',
      '--timeout',
      '120s',
    ],
    { env, timeoutMs: 150_000 },
  );

  // the chart's ServiceAccount as the operator's identity
  const token = (await k(['-n', ns, 'create', 'token', fullname, '--duration=1h'])).trim();
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: { server: kube.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'operator', user: { token } }],
      contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
      'current-context': 'operator',
    }),
  );

  // the environment of the chart's Deployment, as rendered and stored by the API server
  const dep = JSON.parse(await k(['-n', ns, 'get', 'deployment', fullname, '-o', 'json'])) as {
    spec: { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } };
  };
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}`;
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const e of dep.spec.template.spec.containers[0]!.env) {
    if (e.name === 'POD_NAME') childEnv.POD_NAME = `${fullname}-local`;
    else if (e.value !== undefined) childEnv[e.name] = e.value;
    else throw new Error(`unexpected env ${e.name} from ${JSON.stringify(e.valueFrom)}`);
  }
  Object.assign(childEnv, { KUBECONFIG: kubeconfig, METRICS_PORT: String(port), METRICS_HOST: '127.0.0.1' });
  const args = ['operator/src/main.ts'];
  operator = spawn(process.execPath, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  operator.stdout?.on('data', (b: Buffer) => {
    operatorLog += b.toString();
  });
  operator.stderr?.on('data', (b: Buffer) => {
    operatorLog += b.toString();
  });
  await eventually(
    'the operator /readyz',
    async () => {
      if (operator?.exitCode !== null) throw new Error(`operator exited ${operator?.exitCode}:\n${operatorLog}`);
      return (await fetch(`${metricsUrl}/readyz`)).ok;
    },
    30_000,
  );
}, 200_000);

afterAll(async () => {
  // Delete policy: the running operator removes the sale's Redis keys and topics, then the finalizer
  await run(kube.kubectl, ['-n', saleNs, 'delete', 'flashsale', saleName, '--timeout=40s'], { env });
  if (prometheus && prometheus.exitCode === null) {
    const done = new Promise((r) => prometheus?.once('exit', r));
    prometheus.kill('SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  }
  if (operator && operator.exitCode === null) {
    const exited = new Promise<void>((r) => operator?.once('exit', () => r()));
    operator.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (operator.exitCode === null) operator.kill('SIGKILL');
  }
  await run(kube.helm, ['uninstall', release, '-n', ns, '--wait', '--timeout', '60s'], { env });
  for (const n of [ns, saleNs]) await run(kube.kubectl, ['delete', 'namespace', n, '--wait=false'], { env });
  rmSync(dir, { recursive: true, force: true });
}, 150_000);

describe('helm install + the operator under the chart identity', () => {
  it('a sample FlashSale becomes Ready=True, with no RBAC refusal in the operator log', async () => {
    const manifest = sampleSale();
    await k(['apply', '-f', '-'], stringify(manifest));
    const conditions = await eventually(
      'the FlashSale to be Ready=True',
      async () => {
        const fs = JSON.parse(await k(['-n', saleNs, 'get', 'flashsale', saleName, '-o', 'json'])) as {
          status?: { conditions?: Condition[] };
        };
        const c = fs.status?.conditions ?? [];
        return c.find((x) => x.type === 'Ready')?.status === 'True' ? c : undefined;
      },
      60_000,
    ).catch(async (e: Error) => {
      const now = await k(['-n', saleNs, 'get', 'flashsale', saleName, '-o', 'yaml']).catch(() => '');
      throw new Error(`${e.message}\n${now}\n--- operator log (tail) ---\n${operatorLog.slice(-4000)}`);
    });
    for (const t of ['InventorySeeded', 'TopicsReady', 'WorkloadsAvailable', 'MonitoringReady']) {
      expect(conditions.find((c) => c.type === t)?.status, t).toBe('True');
    }
    expect(operatorLog).not.toMatch(/forbidden/i);
  });

  it("the sale's PrometheusRule holds the groups of common/src/alerts.ts for this sale and its thresholds", async () => {
    const rule = JSON.parse(await k(['-n', saleNs, 'get', 'prometheusrule', `${saleName}-alerts`, '-o', 'json'])) as {
      metadata: { labels: Record<string, string> };
      spec: { groups: unknown };
    };
    const parsed = parseFlashSaleSpec(sampleSale().spec);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    expect(rule.spec.groups).toEqual(
      saleAlertGroups({ sale: saleName, namespace: saleNs, thresholds: parsed.spec.monitoring.alerts }),
    );
    expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
  });

  it("the operator's metrics carry what the chart's operator alerts select (leader, reconciles of controller flashsale)", async () => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    // FlashSaleOperatorNoLeader stays quiet: this replica holds the chart's Lease
    expect(text).toContain(`${OPERATOR_METRICS.leaderStatus}{name="${fullname}"} 1`);
    expect(text).toMatch(
      new RegExp(`^${OPERATOR_METRICS.reconcileTotal}\\{controller="flashsale",result="\\w+"\\} [1-9]`, 'm'),
    );
    expect(text).toContain(`# TYPE ${OPERATOR_METRICS.reconcileErrors} counter`);
    const lease = JSON.parse(await k(['-n', ns, 'get', 'lease', fullname, '-o', 'json'])) as {
      spec: { holderIdentity: string };
    };
    expect(lease.spec.holderIdentity).toBe(`${fullname}-local`);
  });

  it('the dashboard panels fed by the operator return data from a Prometheus scraping it', async () => {
    // honor_labels, as the chart's ServiceMonitor: the per-sale series keep the sale's namespace label
    const prom = await startPrometheus(promtool, dir, [
      { job: 'operator', target: metricsUrl.replace('http://', ''), labels: { namespace: ns }, honorLabels: true },
    ]);
    prometheus = prom.child;
    const queries = dashboardQueries().filter((q) => q.source === 'operator');
    expect(queries.length).toBeGreaterThanOrEqual(3);
    const missing = async () => {
      const out: string[] = [];
      for (const q of queries) {
        const r = await promQuery(prom.url, fillVariables(q.expr, { namespace: saleNs, sale: saleName }));
        if (r.length === 0) out.push(`${q.panel}: ${q.expr}`);
      }
      return out;
    };
    await eventually(
      'every operator panel query to return data',
      async () => (await missing()).length === 0,
      30_000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}\nno data:\n  ${(await missing()).join('\n  ')}`);
    });
    const sold = await promQuery(
      prom.url,
      `max by (item_id) (${OPERATOR_METRICS.saleRemaining}{namespace="${saleNs}", name="${saleName}"})`,
    );
    expect(sold.map((x) => x.metric.item_id).sort()).toEqual(['console-x', 'gift-card-50', 'headphones-pro']);
  });

  it('the operator outside its namespace is refused (Role in the watched namespace only)', async () => {
    const sa = `system:serviceaccount:${ns}:${fullname}`;
    const r = await run(kube.kubectl, ['auth', 'can-i', 'patch', 'deployments.apps', '-n', 'default', `--as=${sa}`], {
      env,
    });
    expect(r.stdout.trim()).toBe('no');
    const ok = await run(kube.kubectl, ['auth', 'can-i', 'patch', 'deployments.apps', '-n', saleNs, `--as=${sa}`], {
      env,
    });
    expect(ok.stdout.trim()).toBe('yes');
  });
});
