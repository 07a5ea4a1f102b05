/**
 * What the metrics pipeline installs in the cluster, from the upstream manifests that build-go.sh copied beside the
 * binaries, rendered by kubectl's kustomize with only the images (and the commands the images need) swapped:
 * - metrics-server (its `test` overlay: kubelet serving certificates are self-signed here), kube-system;
 * - KEDA (its `minimal` config: CRDs, RBAC, operator, metrics API server; no admission webhooks), namespace keda;
 * - the Prometheus Operator (bundle.yaml; its CRDs come from the kube service), namespace monitoring;
 * - a Prometheus managed by it, which picks up ServiceMonitors and PrometheusRules labelled
 *   `release: kube-prometheus-stack` in every namespace, as kube-prometheus-stack's does, and whose
 *   `prometheus-operated` Service is the FlashSale's default `autoscaling.prometheusAddress`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { MetricsImages } from '../metrics-images.ts';
import { binPaths } from '../paths.ts';
import { run } from '../proc.ts';

export const MONITORING_NS = 'monitoring';
export const KEDA_NS = 'keda';
export const PROMETHEUS_NAME = 'fse';
/** the labels kube-prometheus-stack's Prometheus selects ServiceMonitors and PrometheusRules by (release name) */
export const SELECTOR_LABELS = { release: 'kube-prometheus-stack' } as const;
/** a ClusterIP Service in front of the Prometheus pod, so this machine reaches it through kube-proxy */
export const PROMETHEUS_SERVICE = 'fse-prometheus';
/** seconds between scrapes and rule evaluations: short, so a test sees an alert's `for` start soon */
export const SCRAPE_SECONDS = 5;

const image = (name: string) => {
  const i = name.lastIndexOf(':');
  return { newName: name.slice(0, i), newTag: name.slice(i + 1) };
};

/**
 * kustomization.yaml (JSON is YAML) over an upstream base outside the folder `dir` it is written to: kustomize takes
 * such a base only by a relative path, and with LoadRestrictionsNone.
 */
function kustomization(
  dir: string,
  o: {
    resources: string[];
    namespace?: string;
    images: { name: string; to: string }[];
    patches: { kind: string; name?: string; ops: unknown[] }[];
  },
): string {
  return JSON.stringify(
    {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      ...(o.namespace ? { namespace: o.namespace } : {}),
      resources: o.resources.map((r) => relative(dir, r)),
      images: o.images.map((i) => ({ name: i.name, ...image(i.to) })),
      patches: o.patches.map((p) => ({
        target: { kind: p.kind, ...(p.name ? { name: p.name } : {}) },
        patch: JSON.stringify(p.ops),
      })),
    },
    null,
    2,
  );
}

const container0 = '/spec/template/spec/containers/0';
/** one 2-core node runs the pipeline beside the sales under test: CPU requests of what idles (upstream asks 100m each) */
const smallCpu = { op: 'replace', path: `${container0}/resources/requests/cpu`, value: '20m' };

function overlays(root: string, img: MetricsImages): Record<string, string> {
  const tools = img.tools.name;
  const at = (name: string) => join(root, name);
  return {
    'metrics-server': kustomization(at('metrics-server'), {
      resources: [join(binPaths.metricsServer, '..', 'manifests', 'overlays', 'test')],
      images: [{ name: 'gcr.io/k8s-staging-metrics-server/metrics-server', to: tools }],
      patches: [
        {
          kind: 'Deployment',
          name: 'metrics-server',
          ops: [{ op: 'add', path: `${container0}/command`, value: ['/metrics-server'] }, smallCpu],
        },
      ],
    }),
    keda: kustomization(at('keda'), {
      resources: [join(binPaths.kedaDir, 'config', 'minimal')],
      images: [
        { name: 'ghcr.io/kedacore/keda', to: tools },
        { name: 'ghcr.io/kedacore/keda-metrics-apiserver', to: tools },
      ],
      // upstream pulls `latest` Always; the image is local
      patches: [
        { kind: 'Deployment', ops: [{ op: 'replace', path: `${container0}/imagePullPolicy`, value: 'IfNotPresent' }] },
      ],
    }),
    'prometheus-operator': kustomization(at('prometheus-operator'), {
      namespace: MONITORING_NS,
      resources: [join(binPaths.promOperatorDir, 'bundle.yaml')],
      images: [{ name: 'quay.io/prometheus-operator/prometheus-operator', to: tools }],
      patches: [
        {
          kind: 'Deployment',
          name: 'prometheus-operator',
          ops: [
            { op: 'add', path: `${container0}/command`, value: ['/bin/operator'] },
            { op: 'add', path: `${container0}/imagePullPolicy`, value: 'IfNotPresent' },
            { op: 'replace', path: `${container0}/args/1`, value: `--prometheus-config-reloader=${tools}` },
            smallCpu,
          ],
        },
      ],
    }),
  };
}

/** The Prometheus the operator manages: its ServiceAccount and read-only cluster RBAC, the resource, a ClusterIP. */
function prometheusDocs(img: MetricsImages): unknown[] {
  const meta = (name: string) => ({ name, namespace: MONITORING_NS });
  const selector = { matchLabels: { ...SELECTOR_LABELS } };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('prometheus') },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'fse-prometheus' },
      rules: [
        {
          apiGroups: [''],
          resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'fse-prometheus' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fse-prometheus' },
      subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: MONITORING_NS }],
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'Prometheus',
      metadata: meta(PROMETHEUS_NAME),
      spec: {
        image: img.prometheus.name,
        version: img.prometheusVersion,
        replicas: 1,
        serviceAccountName: 'prometheus',
        serviceMonitorSelector: selector,
        serviceMonitorNamespaceSelector: {},
        podMonitorSelector: selector,
        podMonitorNamespaceSelector: {},
        ruleSelector: selector,
        ruleNamespaceSelector: {},
        scrapeInterval: `${SCRAPE_SECONDS}s`,
        evaluationInterval: `${SCRAPE_SECONDS}s`,
        retention: '6h',
        resources: { requests: { cpu: '50m', memory: '256Mi' }, limits: { memory: '1Gi' } },
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534 },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(PROMETHEUS_SERVICE),
      spec: {
        selector: { 'operator.prometheus.io/name': PROMETHEUS_NAME },
        ports: [{ name: 'web', port: 9090, targetPort: 'web' }],
      },
    },
  ];
}

const yamlDocs = (docs: unknown[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n');

/**
 * Renders every manifest into `dir` (01-namespaces.yaml, 05-keda-crds.yaml, 10-<component>.yaml, 20-prometheus.yaml);
 * returns the files in the order to apply them.
 */
export async function renderMetricsManifests(dir: string, img: MetricsImages): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files.push(join(dir, name));
  };
  write(
    '01-namespaces.yaml',
    yamlDocs([MONITORING_NS, KEDA_NS].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }))),
  );
  for (const [name, k] of Object.entries(overlays(join(dir, 'kustomize'), img))) {
    const kdir = join(dir, 'kustomize', name);
    mkdirSync(kdir, { recursive: true });
    writeFileSync(join(kdir, 'kustomization.yaml'), k);
    const r = await run(binPaths.kubectl, ['kustomize', '--load-restrictor=LoadRestrictionsNone', kdir]);
    const docs = r.stdout.split(/^---$/m).filter((d) => d.trim());
    const isCrd = (d: string) => /^kind: CustomResourceDefinition$/m.test(d);
    // CRDs apart (05-*-crds.yaml): a stop leaves them, as the kube service leaves the Prometheus Operator's (deleting
    // a CRD deletes every object of it in the cluster, other tests' too); the Prometheus Operator's are the kube
    // service's (same version, applied at its start)
    if (name !== 'prometheus-operator' && docs.some(isCrd))
      write(`05-${name}-crds.yaml`, docs.filter(isCrd).join('---'));
    write(`10-${name}.yaml`, docs.filter((d) => !isCrd(d)).join('---'));
  }
  write('20-prometheus.yaml', yamlDocs(prometheusDocs(img)));
  return files.sort();
}
