/**
 * The metrics pipeline on the real node: metrics-server (metrics.k8s.io: CPU for HPAs), KEDA (ScaledObjects, and
 * external.metrics.k8s.io for the HPAs it makes) and the Prometheus Operator with a Prometheus it manages, all as
 * pods from images built here (metrics-images.ts), installed from their upstream manifests (metrics-manifests.ts).
 * The aggregated APIs reach their pods through the API server's front proxy (kube.ts, kube-pki.ts). No process runs
 * on the host: stopping deletes what was applied.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureMetricsImages } from '../metrics-images.ts';
import { binPaths, logFile, serviceDir } from '../paths.ts';
import { run, waitFor } from '../proc.ts';
import { apiGet, kubeconfigPath, tokenOf } from './kube.ts';
import {
  KEDA_NS,
  MONITORING_NS,
  PROMETHEUS_NAME,
  PROMETHEUS_SERVICE,
  renderMetricsManifests,
  SCRAPE_SECONDS,
  SELECTOR_LABELS,
} from './metrics-manifests.ts';
import { nodeLayout } from './node-config.ts';
import { importImages } from './node-images.ts';
import type { Endpoint, NativeService } from './service.ts';

const APISERVICES = ['v1beta1.metrics.k8s.io', 'v1beta1.external.metrics.k8s.io'];
const manifestsDir = () => join(serviceDir('metrics'), 'manifests');

/** kubectl with the admin kubeconfig; its output goes to the service's log unless `read` (then it is returned). */
function kubectl(args: string[], opts: { check?: boolean; read?: boolean } = {}) {
  return run(binPaths.kubectl, [`--kubeconfig=${kubeconfigPath()}`, ...args], {
    ...(opts.read ? {} : { logPath: logFile('metrics') }),
    ...(opts.check === undefined ? {} : { check: opts.check }),
  });
}

async function serverAndToken(): Promise<{ server: string; token: string }> {
  const token = tokenOf(kubeconfigPath());
  const server = existsSync(kubeconfigPath())
    ? /server: (\S+)/.exec(readFileSync(kubeconfigPath(), 'utf8'))?.[1]
    : undefined;
  if (!token || !server) throw new Error('metrics: the kube service is not running (no kubeconfig)');
  return { server, token };
}

/** The API server forwards to aggregated APIs only with the front-proxy flags (kube.ts): say so instead of hanging. */
async function assertAggregation(server: string, token: string): Promise<void> {
  const r = await apiGet(server, '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication', token);
  if (r.status !== 200 || !r.body.includes('requestheader-client-ca-file')) {
    throw new Error(
      'metrics: the running kube-apiserver has no front-proxy (requestheader) configuration, so it cannot serve ' +
        'metrics.k8s.io or external.metrics.k8s.io; it was started before the harness set those flags: restart it ' +
        '(node tools/harness/src/cli.ts down node kube, then up)',
    );
  }
}

async function apiServicesAvailable(server: string, token: string): Promise<boolean> {
  for (const name of APISERVICES) {
    const r = await apiGet(server, `/apis/apiregistration.k8s.io/v1/apiservices/${name}`, token);
    if (r.status !== 200) return false;
    const conds = (JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } }).status
      ?.conditions;
    if (!conds?.some((c) => c.type === 'Available' && c.status === 'True')) return false;
  }
  return true;
}

async function prometheusReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(3000) });
    return r.ok;
  } catch {
    return false;
  }
}

export const metrics: NativeService<'metrics'> = {
  name: 'metrics',
  needs: ['node'],
  async install() {
    await ensureMetricsImages();
  },
  async start() {
    const logPath = logFile('metrics');
    const { server, token } = await serverAndToken();
    await assertAggregation(server, token);
    const img = await ensureMetricsImages();
    await importImages(nodeLayout(), [img.tools, img.prometheus], logPath);
    const dir = manifestsDir();
    rmSync(dir, { recursive: true, force: true });
    const files = await renderMetricsManifests(dir, img);
    // the Prometheus Operator's CRDs (the kube service applies them too; the same files, idempotent)
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', binPaths.promOperatorCrds]);
    for (const f of files.filter((f) => !f.endsWith('20-prometheus.yaml'))) {
      await kubectl(['apply', '--server-side', '--force-conflicts', '-f', f]);
    }
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/scaledobjects.keda.sh']);
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(dir, '20-prometheus.yaml')]);
    const waits = { timeoutMs: 300_000, intervalMs: 1000, logPath };
    await waitFor(
      'metrics-server and KEDA serving their APIs (APIServices Available)',
      () => apiServicesAvailable(server, token),
      waits,
    );
    const ip = (
      await kubectl(['-n', MONITORING_NS, 'get', 'service', PROMETHEUS_SERVICE, '-o', 'jsonpath={.spec.clusterIP}'], {
        read: true,
      })
    ).stdout.trim();
    const prometheusUrl = `http://${ip}:9090`;
    await waitFor(
      `Prometheus ${MONITORING_NS}/${PROMETHEUS_NAME} ready (${prometheusUrl})`,
      () => prometheusReady(prometheusUrl),
      waits,
    );
    return {
      prometheusUrl,
      prometheusInCluster: `http://prometheus-operated.${MONITORING_NS}.svc:9090`,
      selectorLabels: { ...SELECTOR_LABELS },
      scrapeSeconds: SCRAPE_SECONDS,
      kedaNamespace: KEDA_NS,
      monitoringNamespace: MONITORING_NS,
    };
  },
  async stop() {
    const dir = manifestsDir();
    if (!existsSync(dir) || !existsSync(kubeconfigPath())) return;
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml') && !f.endsWith('-crds.yaml'))
      .sort()
      .reverse();
    // namespaces last: their deletion takes what is left inside; the APIServices go with the files that made them;
    // the CRDs stay (deleting one deletes its objects in every namespace)
    for (const f of files) {
      await kubectl(['delete', '--ignore-not-found', '--wait=false', '-f', join(dir, f)], { check: false });
    }
    rmSync(dir, { recursive: true, force: true });
  },
  async healthy(e: Endpoint<'metrics'>) {
    try {
      const { server, token } = await serverAndToken();
      return (await apiServicesAvailable(server, token)) && (await prometheusReady(e.prometheusUrl));
    } catch {
      return false;
    }
  },
};
