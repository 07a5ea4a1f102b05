/**
 * The chart without a cluster: `helm lint`, `helm template` for the defaults and every ci/*-values.yaml set (with and
 * without the Prometheus Operator API), what each renders, and values refused by values.schema.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flashSaleSpecObject } from '../../common/src/flashsale-spec.ts';
import { LOG_LEVELS } from '../../common/src/logger.ts';
import { envSchema as operatorEnvSchema } from '../../operator/src/config.ts';
import { installCrd } from '../../operator/test/support.ts';
import { CHART_NAMESPACE_PLACEHOLDER, generatedFiles } from '../../tools/gen-rules.ts';
import { requireService } from '../support/services.ts';
import {
  CHART,
  find,
  type K8sObject,
  one,
  parseManifests,
  ROOT,
  run,
  runOk,
  templateArgs,
  VALUES_SETS,
} from './support.ts';

const { helm, kubeconfig, kubectl } = requireService('kube');
const NS = 'fs-system';
const MON = ['--api-versions', 'monitoring.coreos.com/v1'];

async function render(set: { file?: string }, extra: string[] = []): Promise<K8sObject[]> {
  return parseManifests(await runOk(helm, templateArgs('rel', NS, set, extra)));
}

const byName = (name: string) => VALUES_SETS.find((s) => s.name === name)!;

describe('helm lint', () => {
  it.each(VALUES_SETS)('passes --strict for the $name values', async (set) => {
    const out = await runOk(helm, ['lint', '--strict', CHART, ...(set.file ? ['-f', set.file] : [])]);
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });
});

describe('helm template', () => {
  it.each(VALUES_SETS)('renders the $name values, with and without monitoring.coreos.com/v1', async (set) => {
    const plain = await render(set);
    const withMon = await render(set, MON);
    expect(find(plain, 'ServiceMonitor')).toHaveLength(0);
    expect(find(plain, 'PrometheusRule')).toHaveLength(0);
    const dep = one(withMon, 'Deployment');
    expect(dep.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    // restricted pod security, whatever the values set
    const pod = dep.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.args).toEqual(['node', 'operator/src/main.ts']);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) expect(c[probe]).toBeDefined();
    // every object of the release namespace is in the release namespace
    for (const o of withMon) {
      if (['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition'].includes(o.kind)) continue;
      if (o.kind === 'Role' || o.kind === 'RoleBinding' || o.kind === 'ConfigMap') continue;
      expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(NS);
    }
  });

  it('defaults: two replicas with leader election, the CRD kept on uninstall, ClusterRole, PDB, dashboard', async () => {
    const objs = await render(byName('default'), MON);
    const dep = one(objs, 'Deployment');
    expect(dep.spec.replicas).toBe(2);
    const env = Object.fromEntries(
      (dep.spec.template.spec.containers[0].env as { name: string; value?: string }[]).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      LEADER_ELECT: 'true',
      LEASE_NAMESPACE: NS,
      LEASE_NAME: 'rel-flash-sale-operator',
      WATCH_NAMESPACE: '',
      // the chart and the operator's built-in default name the same image
      DEFAULT_GATEWAY_IMAGE: operatorEnvSchema.shape.DEFAULT_GATEWAY_IMAGE.parse(undefined),
      DEFAULT_PROCESSOR_IMAGE: operatorEnvSchema.shape.DEFAULT_PROCESSOR_IMAGE.parse(undefined),
      GATEWAY_COMMAND: '/usr/bin/tini -- node gateway/src/main.ts',
      PROCESSOR_COMMAND: '/usr/bin/tini -- node processor/src/main.ts',
    });
    // every variable the chart sets is one the operator's config reads (operator/src/config.ts)
    const known = Object.keys(operatorEnvSchema.shape);
    for (const name of Object.keys(env)) expect(known, `${name} is not read by the operator`).toContain(name);
    const crd = one(objs, 'CustomResourceDefinition');
    expect(crd.metadata.name).toBe('flashsales.flashsale.dev');
    expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    expect(one(objs, 'ClusterRole').rules.length).toBeGreaterThan(5);
    expect(one(objs, 'Role').metadata.name).toBe('rel-flash-sale-operator-leader-election');
    expect(one(objs, 'PodDisruptionBudget').spec.minAvailable).toBe(1);
    expect(find(objs, 'NetworkPolicy')).toHaveLength(0);
    // labelled for a kube-prometheus-stack release named like the one in examples/
    expect(one(objs, 'ServiceMonitor').metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(one(objs, 'PrometheusRule').metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(one(objs, 'ServiceMonitor').spec.endpoints[0].honorLabels).toBe(true);
    expect(find(objs, 'StatefulSet')).toHaveLength(0);
    const job = one(objs, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('test');
  });

  it('the CRD is the one in crds/ (same spec), only labels and the keep annotation added', async () => {
    const objs = await render(byName('default'));
    const crd = one(objs, 'CustomResourceDefinition');
    const [source] = parseManifests(readFileSync(join(ROOT, 'crds', 'flashsale.dev_flashsales.yaml'), 'utf8'));
    expect(crd.spec).toEqual(source!.spec);
    expect(crd.metadata.annotations).toMatchObject(source!.metadata.annotations ?? {});
  });

  it("the operator's PrometheusRule carries the groups of common/src/alerts.ts, in the release namespace", async () => {
    const objs = await render(byName('monitoring'), MON);
    const rule = one(objs, 'PrometheusRule');
    expect(rule.metadata.labels?.release).toBe('kube-prometheus-stack');
    expect(one(objs, 'ServiceMonitor').metadata.labels?.release).toBe('kube-prometheus-stack');
    const generated = generatedFiles().get('charts/flash-sale-operator/files/operator-rules.yaml')!;
    const expected = parseManifests(
      `kind: x\n${generated
        .replaceAll(CHART_NAMESPACE_PLACEHOLDER, NS)
        .replaceAll('docs/runbook.md#', 'https://git.example.com/shop/flash-sale-engine/blob/main/docs/runbook.md#')}`,
    );
    expect(rule.spec.groups).toEqual((expected[0] as unknown as { groups: unknown }).groups);
    const exprs = JSON.stringify(rule.spec.groups);
    expect(exprs).toContain(`namespace=\\"${NS}\\"`);
    expect(exprs).not.toContain(CHART_NAMESPACE_PLACEHOLDER);
  });

  it('monitoring values: image pinned by digest, dashboard ConfigMap with the sidecar label in its namespace', async () => {
    const objs = await render(byName('monitoring'), MON);
    expect(one(objs, 'Deployment').spec.template.spec.containers[0].image).toBe(
      'registry.example.com/shop/flash-sale-engine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    const cm = one(objs, 'ConfigMap');
    expect(cm.metadata.namespace).toBe('monitoring');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(cm.metadata.annotations?.grafana_folder).toBe('Flash Sale');
    const dashboard = readFileSync(join(ROOT, 'monitoring', 'dashboards', 'flash-sale.json'), 'utf8');
    expect(JSON.parse(cm.data['flash-sale.json'])).toEqual(JSON.parse(dashboard));
  });

  it('namespaced values: a Role in the watched namespace only, no ClusterRole, no CRD, one replica', async () => {
    const objs = await render(byName('namespaced'), MON);
    expect(find(objs, 'ClusterRole')).toHaveLength(0);
    expect(find(objs, 'ClusterRoleBinding')).toHaveLength(0);
    expect(find(objs, 'CustomResourceDefinition')).toHaveLength(0);
    // leader election off: no Lease Role either
    expect(find(objs, 'Role').map((r) => r.metadata.namespace)).toEqual(['shop-a']);
    expect(find(objs, 'RoleBinding').map((r) => r.subjects[0])).toEqual([
      { kind: 'ServiceAccount', name: 'fs-operator', namespace: NS },
    ]);
    const dep = one(objs, 'Deployment');
    expect(dep.spec.replicas).toBe(1);
    expect(dep.spec.template.spec.serviceAccountName).toBe('fs-operator');
    const env = dep.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env).toContainEqual({ name: 'WATCH_NAMESPACE', value: 'shop-a' });
    expect(env).toContainEqual({ name: 'LEADER_ELECT', value: 'false' });
    expect(find(objs, 'PodDisruptionBudget')).toHaveLength(0);
  });

  it('quickstart values: Redis and Kafka under the Service names a FlashSale uses by default, NetworkPolicy', async () => {
    const objs = await render(byName('quickstart'), MON);
    expect(
      find(objs, 'Service')
        .map((s) => `${s.metadata.name}:${s.spec.ports[0].port}`)
        .sort(),
    ).toEqual(['kafka-service:9092', 'redis-service:6379', 'rel-flash-sale-operator-metrics:8080']);
    // the names and ports a FlashSale uses when it names no Redis or Kafka (common/src/flashsale-spec.ts defaults)
    const defaults = flashSaleSpecObject.shape;
    const redisDefault = defaults.redis.parse(undefined).addr;
    const kafkaDefault = defaults.kafka.parse(undefined).brokers;
    expect(['redis-service:6379', 'kafka-service:9092']).toEqual([redisDefault, kafkaDefault]);
    const sets = find(objs, 'StatefulSet');
    expect(sets.map((s) => s.metadata.name).sort()).toEqual([
      'rel-flash-sale-operator-kafka',
      'rel-flash-sale-operator-redis',
    ]);
    const redis = sets.find((s) => s.metadata.name.endsWith('-redis'))!;
    expect(redis.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('2Gi');
    for (const s of sets) {
      expect(s.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(s.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
    }
    const np = one(objs, 'NetworkPolicy');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(JSON.stringify(np.spec.egress)).toContain('10.0.0.1/32');
  });

  it('minimal values: no monitoring objects even with the API, no dashboard, no test hook, CRD not kept', async () => {
    const objs = await render(byName('minimal'), MON);
    for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap', 'Job', 'PodDisruptionBudget']) {
      expect(find(objs, kind), kind).toHaveLength(0);
    }
    expect(one(objs, 'CustomResourceDefinition').metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('NOTES.txt tells how to apply a first sale and warns when the Prometheus Operator is missing', async () => {
    // client dry-run: default capabilities (no Prometheus Operator); server dry-run: the local API server, which
    // serves monitoring.coreos.com/v1 (the harness installs the Prometheus Operator CRDs)
    const plain = await runOk(helm, ['install', 'rel', CHART, '--dry-run=client', '--namespace', NS]);
    expect(plain).toContain('kind: FlashSale');
    expect(plain).toContain('kubectl -n fs-system get flashsales -w');
    expect(plain).toContain('PrometheusOperatorNotInstalled');
    // (crds.enabled=false: the shared cluster's CRD is not this release's; it also shows the install-the-CRD note)
    const mon = await runOk(
      helm,
      ['install', 'rel', CHART, '--dry-run=server', '--namespace', 'default', '--set', 'crds.enabled=false'],
      { env: { ...process.env, KUBECONFIG: kubeconfig } },
    );
    expect(mon).toContain('kubectl -n default get flashsales -w');
    expect(mon).toContain('kubectl apply --server-side -f crds/flashsale.dev_flashsales.yaml');
    // the first sale NOTES.txt offers is a FlashSale the API server accepts (CRD schema and CEL rules)
    const sample = plain.match(/cat <<'YAML' \| kubectl[^\n]*\n([\s\S]*?)\n\s*YAML\n/)?.[1];
    expect(sample).toBeDefined();
    const manifest = sample!.replace(/^ {5}/gm, '');
    expect(manifest).toMatch(/^kind: FlashSale$/m);
    // the CRD itself: files run in any order on a fresh cluster, and no other test here may have applied it yet
    await installCrd();
    const dry = await run(kubectl, ['apply', '--dry-run=server', '-n', 'default', '-f', '-'], {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      input: manifest,
    });
    expect(dry.stderr).toBe('');
    expect(dry.stdout.trim()).toBe('flashsale.flashsale.dev/first-sale created (server dry run)');
    expect(mon).not.toContain('PrometheusOperatorNotInstalled');
    expect(mon).toContain('release=<its release>');
    expect(mon).toContain('release=kube-prometheus-stack');
  });
});

describe('values.schema.json refuses bad values with a message naming the value', () => {
  const cases: [string, string[], RegExp][] = [
    ['no replicas', ['--set', 'replicaCount=0'], /\/replicaCount': minimum: got 0, want 1/],
    [
      'two replicas without leader election',
      ['--set', 'leaderElection.enabled=false'],
      /\/replicaCount': maximum: got 2, want 1/,
    ],
    ['an unknown pull policy', ['--set', 'image.pullPolicy=Sometimes'], /\/image\/pullPolicy': value must be one of/],
    ['an unknown log level', ['--set', 'operator.logLevel=loud'], /\/operator\/logLevel': value must be one of/],
    [
      'privilege escalation',
      ['--set', 'securityContext.allowPrivilegeEscalation=true'],
      /allowPrivilegeEscalation': value must be false/,
    ],
    ['running as root', ['--set', 'podSecurityContext.runAsNonRoot=false'], /runAsNonRoot': value must be true/],
    ['a misspelt top-level key', ['--set', 'replicas=3'], /additional properties 'replicas' not allowed/],
    [
      'a duration without a unit',
      ['--set-string', 'leaderElection.leaseDuration=15'],
      /leaseDuration': '15' does not match pattern/,
    ],
    ['a privileged metrics port', ['--set', 'metrics.port=80'], /\/metrics\/port': minimum: got 80/],
    ['a digest that is not sha256', ['--set', 'image.digest=abc'], /\/image\/digest': 'abc' does not match pattern/],
    [
      'an invalid namespace name',
      ['--set', 'operator.watchNamespace=Bad_NS'],
      /\/operator\/watchNamespace': 'Bad_NS' does not match pattern/,
    ],
    [
      'a command argument with a space',
      ['--set', 'operator.workloadDefaults.gatewayCommand={node,a b}'],
      /gatewayCommand\/1': 'a b' does not match pattern/,
    ],
    ['a string for a boolean', ['--set-string', 'crds.enabled=yes'], /\/crds\/enabled': got string, want boolean/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const r = await run(helm, ['template', 'rel', CHART, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("values don't meet the specifications of the schema");
    expect(r.stderr).toMatch(message);
  });

  it('lists the same log levels as common/src/logger.ts', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    expect(schema.properties.operator.properties.logLevel.enum).toEqual([...LOG_LEVELS]);
  });
});
