/**
 * The chart on the real local control plane (kube-apiserver, controller-manager, scheduler, kwok; Prometheus Operator
 * CRDs installed by the harness):
 * - every values set renders to manifests the API server accepts (`kubectl apply --dry-run=server`);
 * - `helm install` brings the operator Deployment to Available, `helm upgrade` with a changed value rolls it;
 * - the ServiceAccount may do exactly what the operator needs (`kubectl auth can-i --as=...`) and nothing else;
 * - `helm test` runs its hook; `helm uninstall` keeps the CRD.
 *
 * kwok fakes the pods: they become Running and Ready without a container runtime, so the operator process does NOT
 * run inside this cluster (no image is pulled, probes are not executed). What is proven here is the chart's objects,
 * the rollout mechanics and the RBAC, not the operator's behaviour in a pod.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kwokNamespace } from '../../tools/harness/src/index.ts';
import { requireService } from '../support/services.ts';
import { CHART, find, parseManifests, run, runOk, templateArgs, VALUES_SETS } from './support.ts';

const { kubeconfig, kubectl, helm } = requireService('kube');
const env = { ...process.env, KUBECONFIG: kubeconfig };
const id = randomUUID().slice(0, 8);
const ns = `fso-${id}`;
const watched = [`fso-${id}-a`, `fso-${id}-b`];
const watchedOne = `fso-${id}-w`;
const release = `fso-${id}`;
const fullname = `${release}-flash-sale-operator`;
const sa = `system:serviceaccount:${ns}:${fullname}`;

const k = (args: string[], input?: string) => runOk(kubectl, args, { env, ...(input === undefined ? {} : { input }) });
const h = (args: string[], timeoutMs = 150_000) => runOk(helm, args, { env, timeoutMs });

interface DeploymentStatus {
  metadata: { generation: number };
  spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  status: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string }[];
  };
}

async function deployment(): Promise<DeploymentStatus> {
  return JSON.parse(await k(['-n', ns, 'get', 'deployment', fullname, '-o', 'json'])) as DeploymentStatus;
}

async function replicaSetHashes(): Promise<string[]> {
  const out = await k([
    '-n',
    ns,
    'get',
    'pods',
    '-l',
    `app.kubernetes.io/instance=${release},app.kubernetes.io/component=operator`,
    '-o',
    'jsonpath={range .items[*]}{.metadata.labels.pod-template-hash}{" "}{.metadata.deletionTimestamp}{"\\n"}{end}',
  ]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.includes(' '));
}

beforeAll(async () => {
  for (const n of [ns, ...watched, watchedOne]) await k(['apply', '-f', '-'], JSON.stringify(kwokNamespace(n)));
}, 60_000);

afterAll(async () => {
  await run(helm, ['uninstall', release, '-n', ns, '--wait', '--timeout', '60s'], { env });
  for (const n of [ns, ...watched, watchedOne]) await run(kubectl, ['delete', 'namespace', n, '--wait=false'], { env });
}, 90_000);

describe('the rendered chart on the real API server', () => {
  it.each(VALUES_SETS)('kubectl apply --dry-run=server accepts the $name values', async (set) => {
    const rendered = await runOk(
      helm,
      templateArgs(release, ns, set, [
        '--api-versions',
        'monitoring.coreos.com/v1',
        // namespaces this test owns instead of the example names
        ...(set.name === 'namespaced' ? ['--set', `operator.watchNamespace=${watchedOne}`] : []),
        ...(set.name === 'monitoring' ? ['--set', `dashboards.namespace=${ns}`] : []),
      ]),
    );
    const objs = parseManifests(rendered);
    expect(objs.length).toBeGreaterThan(5);
    // server-side apply, dry run: validated and admitted by the API server, nothing stored
    const r = await run(
      kubectl,
      ['apply', '--server-side', '--force-conflicts', '--field-manager=packaging-test', '--dry-run=server', '-f', '-'],
      { env, input: rendered },
    );
    expect(r.stderr, r.stderr).toBe('');
    expect(r.code).toBe(0);
    // one line per object, every one accepted by the server
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(objs.length);
    for (const line of lines) expect(line).toMatch(/serverside-applied \(server dry run\)$/);
  });

  it('the API server refuses a manifest the schema would not catch if the chart were broken (sanity)', async () => {
    const rendered = await runOk(helm, templateArgs(release, ns, {}, ['--show-only', 'templates/deployment.yaml']));
    const broken = rendered.replace('maxUnavailable: 0', 'maxUnavailable: -1');
    const r = await run(kubectl, ['apply', '--dry-run=server', '-f', '-'], { env, input: broken });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/maxUnavailable/);
  });
});

describe('quick start on the local control plane', () => {
  it('helm install --set quickstart.enabled=true brings Redis and Kafka StatefulSets up beside the operator (kwok pods)', async () => {
    const qsRelease = `${release}-qs`;
    const qsNs = watched[1]!;
    try {
      // crds.enabled=false: the other install in this file owns the CRD path
      await h([
        'install',
        qsRelease,
        CHART,
        '-n',
        qsNs,
        '--set',
        'quickstart.enabled=true',
        '--set',
        'crds.enabled=false',
        '--set',
        'replicaCount=1',
        '--wait',
        '--timeout',
        '120s',
      ]);
      const sets = JSON.parse(await k(['-n', qsNs, 'get', 'statefulsets', '-o', 'json'])) as {
        items: { metadata: { name: string }; status: { readyReplicas?: number } }[];
      };
      expect(sets.items.map((x) => [x.metadata.name, x.status.readyReplicas])).toEqual([
        [`${qsRelease}-flash-sale-operator-kafka`, 1],
        [`${qsRelease}-flash-sale-operator-redis`, 1],
      ]);
      const svcs = await k(['-n', qsNs, 'get', 'services', 'redis-service', 'kafka-service', '-o', 'name']);
      expect(svcs.trim().split('\n')).toEqual(['service/redis-service', 'service/kafka-service']);
      // the endpoints point at the (fake) pods: a FlashSale in this namespace would reach them by its defaults
      const ep = await k([
        '-n',
        qsNs,
        'get',
        'endpointslices',
        '-l',
        'kubernetes.io/service-name=redis-service',
        '-o',
        'json',
      ]);
      expect((JSON.parse(ep) as { items: { endpoints?: unknown[] }[] }).items[0]?.endpoints?.length).toBe(1);
    } finally {
      await run(helm, ['uninstall', qsRelease, '-n', qsNs, '--wait', '--timeout', '60s'], { env });
    }
  });
});

describe('helm install, upgrade, test and uninstall on the local control plane', () => {
  it('installs: the operator Deployment becomes Available with two ready replicas', async () => {
    // --take-ownership: the shared test cluster may already hold the FlashSale CRD (applied by other tests)
    await h([
      'install',
      release,
      CHART,
      '-n',
      ns,
      '--take-ownership',
      '--wait',
      '--timeout',
      '120s',
      '--set',
      'image.repository=local/flash-sale-engine',
    ]);
    const d = await deployment();
    expect(d.status.conditions?.find((c) => c.type === 'Available')?.status).toBe('True');
    expect(d.status.readyReplicas).toBe(2);
    expect(new Set(await replicaSetHashes()).size).toBe(1);
    const crd = JSON.parse(await k(['get', 'crd', 'flashsales.flashsale.dev', '-o', 'json'])) as {
      metadata: { annotations: Record<string, string> };
      status: { conditions: { type: string; status: string }[] };
    };
    expect(crd.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
    expect(crd.metadata.annotations['meta.helm.sh/release-name']).toBe(release);
    expect(crd.status.conditions.find((c) => c.type === 'Established')?.status).toBe('True');
    // the Prometheus Operator CRDs are installed, so the gated objects exist
    await k(['-n', ns, 'get', 'servicemonitor', fullname]);
    await k(['-n', ns, 'get', 'prometheusrule', fullname]);
  });

  it('the ServiceAccount can do what the operator needs, in any namespace', async () => {
    const allowed: string[][] = [
      ['list', 'flashsales.flashsale.dev', '-A'],
      ['watch', 'flashsales.flashsale.dev', '-A'],
      ['patch', 'flashsales.flashsale.dev', '-n', watched[0]!],
      ['patch', 'flashsales.flashsale.dev', '--subresource=status', '-n', watched[0]!],
      ['update', 'flashsales.flashsale.dev', '--subresource=finalizers', '-n', watched[0]!],
      ['create', 'deployments.apps', '-n', watched[0]!],
      ['patch', 'deployments.apps', '-n', watched[1]!],
      ['watch', 'deployments.apps', '-A'],
      ['patch', 'services', '-n', watched[0]!],
      ['patch', 'configmaps', '-n', watched[0]!],
      ['patch', 'poddisruptionbudgets.policy', '-n', watched[0]!],
      ['patch', 'horizontalpodautoscalers.autoscaling', '-n', watched[0]!],
      ['delete', 'horizontalpodautoscalers.autoscaling', '-n', watched[0]!],
      ['patch', 'prometheusrules.monitoring.coreos.com', '-n', watched[0]!],
      ['patch', 'servicemonitors.monitoring.coreos.com', '-n', watched[0]!],
      ['get', 'secrets', '-n', watched[0]!],
      ['create', 'events', '-n', watched[0]!],
      ['get', 'leases.coordination.k8s.io', '-n', ns],
      ['create', 'leases.coordination.k8s.io', '-n', ns],
      ['update', 'leases.coordination.k8s.io', '-n', ns],
      ['create', 'services', '-n', watched[1]!],
      ['delete', 'configmaps', '-n', watched[1]!],
    ];
    const denied: string[][] = [
      ['list', 'secrets', '-n', watched[0]!],
      ['watch', 'secrets', '-A'],
      ['delete', 'flashsales.flashsale.dev', '-n', watched[0]!],
      ['create', 'flashsales.flashsale.dev', '-n', watched[0]!],
      ['create', 'pods', '-n', watched[0]!],
      ['create', 'pods', '--subresource=exec', '-n', watched[0]!],
      ['update', 'deployments.apps', '--subresource=scale', '-n', watched[0]!],
      ['update', 'leases.coordination.k8s.io', '-n', watched[0]!],
      ['update', 'flashsales.flashsale.dev', '-n', watched[0]!],
      ['list', 'configmaps', '-A'],
      ['watch', 'services', '-n', watched[0]!],
      ['list', 'leases.coordination.k8s.io', '-n', ns],
      ['patch', 'events', '-n', watched[0]!],
      ['create', 'events.events.k8s.io', '-n', watched[0]!],
      ['get', 'nodes'],
      ['delete', 'namespaces'],
      ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', ns],
      ['patch', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'serviceaccounts', '--subresource=token', '-n', ns],
    ];
    const canI = async (args: string[]) => {
      const r = await run(kubectl, ['auth', 'can-i', ...args, `--as=${sa}`], { env });
      return r.stdout.trim();
    };
    const results = await Promise.all([...allowed, ...denied].map(async (a) => [a.join(' '), await canI(a)] as const));
    const got = Object.fromEntries(results);
    const want = Object.fromEntries([
      ...allowed.map((a) => [a.join(' '), 'yes'] as const),
      ...denied.map((a) => [a.join(' '), 'no'] as const),
    ]);
    expect(got).toEqual(want);
  });

  it('the ServiceAccount may apply KEDA ScaledObjects (SubjectAccessReview: the harness has no KEDA CRDs to discover)', async () => {
    const review = async (verb: string, namespace: string) => {
      const body = JSON.stringify({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: sa,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
          resourceAttributes: { group: 'keda.sh', resource: 'scaledobjects', verb, namespace },
        },
      });
      const out = await k(['create', '-f', '-', '-o', 'json'], body);
      return (JSON.parse(out) as { status: { allowed: boolean } }).status.allowed;
    };
    expect(await review('patch', watched[0]!)).toBe(true);
    expect(await review('delete', watched[1]!)).toBe(true);
    expect(await review('deletecollection', watched[0]!)).toBe(false);
  });

  it('upgrade with a changed value rolls the operator to a new ReplicaSet, never below two available', async () => {
    const before = await deployment();
    const hashesBefore = new Set(await replicaSetHashes());
    const upgrade = h([
      'upgrade',
      release,
      CHART,
      '-n',
      ns,
      '--reuse-values',
      '--set',
      'operator.logLevel=debug',
      '--wait',
      '--timeout',
      '120s',
    ]);
    // maxUnavailable: 0 — sample the Deployment while the rollout runs
    let done = false;
    const samples: number[] = [];
    const sampling = (async () => {
      while (!done) {
        samples.push((await deployment()).status.availableReplicas ?? 0);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await upgrade;
    } finally {
      done = true;
      await sampling;
    }
    expect(samples.length).toBeGreaterThan(0);
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2);
    const after = await deployment();
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(after.status.observedGeneration).toBe(after.metadata.generation);
    expect(after.status.updatedReplicas).toBe(2);
    expect(after.status.availableReplicas).toBe(2);
    expect(after.spec.template.spec.containers[0]!.env).toContainEqual({ name: 'LOG_LEVEL', value: 'debug' });
    const hashesAfter = new Set(await replicaSetHashes());
    expect(hashesAfter.size).toBe(1);
    expect([...hashesAfter][0]).not.toBe([...hashesBefore][0]);
    const history = await h(['history', release, '-n', ns, '-o', 'json']);
    expect((JSON.parse(history) as { status: string }[]).map((r) => r.status)).toEqual(['superseded', 'deployed']);
  });

  it('helm test runs its hook Job (kwok completes the pod: this proves the wiring, not a real /readyz answer)', async () => {
    const out = await h(['test', release, '-n', ns, '--timeout', '60s']);
    expect(out).toMatch(new RegExp(`TEST SUITE:\\s+${fullname}-test-readyz`));
    expect(out).toMatch(/Phase:\s+Succeeded/);
  });

  it('rollback returns to the first revision', async () => {
    await h(['rollback', release, '1', '-n', ns, '--wait', '--timeout', '120s']);
    const d = await deployment();
    expect(d.spec.template.spec.containers[0]!.env).toContainEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(d.status.availableReplicas).toBe(2);
  });

  it('uninstall removes the operator and its RBAC but keeps the CRD (and so every FlashSale)', async () => {
    await h(['uninstall', release, '-n', ns, '--wait', '--timeout', '60s']);
    const left = parseManifests(
      await k(['get', 'deployments,serviceaccounts,roles,rolebindings', '-n', ns, '-o', 'yaml']).then((y) =>
        y.replace(/^apiVersion: v1\nitems:\n/m, ''),
      ),
    );
    expect(find(left, 'Deployment')).toHaveLength(0);
    const cr = await run(kubectl, ['get', 'clusterrole', fullname], { env });
    expect(cr.code).not.toBe(0);
    expect(cr.stderr).toContain('NotFound');
    const crd = await k(['get', 'crd', 'flashsales.flashsale.dev', '-o', 'name']);
    expect(crd.trim()).toBe('customresourcedefinition.apiextensions.k8s.io/flashsales.flashsale.dev');
  });
});
