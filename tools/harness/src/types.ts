/** What the harness hands to tests: where each real service listens. Product code never imports this. */
export type ServiceName =
  | 'redis'
  | 'redisCluster'
  | 'kafka'
  | 'kafka3'
  | 'kube'
  | 'node'
  | 'prometheus'
  | 'redisTls'
  | 'kafkaSecure'
  | 'metrics';

export const ALL_SERVICES: readonly ServiceName[] = [
  'redis',
  'redisCluster',
  'kafka',
  'kafka3',
  'kube',
  'node',
  'prometheus',
  'redisTls',
  'kafkaSecure',
  'metrics',
];
/** What `up` with no names and the test global setup start by default. */
export const DEFAULT_SERVICES: readonly ServiceName[] = ['redis', 'kafka', 'kube', 'node', 'prometheus'];
/**
 * Started by the tests that need them, not by the global setup (unless FSE_SERVICES names them): the metrics pipeline,
 * whose first build (KEDA above all) is the costliest of the harness, so a test run pays it only when those tests run,
 * while the other test worker goes on.
 */
export const ON_DEMAND_SERVICES: readonly ServiceName[] = ['metrics'];
/** What the test global setup starts when FSE_SERVICES is unset. */
export const SETUP_SERVICES: readonly ServiceName[] = ALL_SERVICES.filter((n) => !ON_DEMAND_SERVICES.includes(n));

export interface ServiceEndpoints {
  /** single Redis 7: "127.0.0.1:port" */
  redis?: { addr: string; host: string; port: number; dir: string };
  /** Redis Cluster, 3 masters + 3 replicas: seed nodes "127.0.0.1:p1,..." */
  redisCluster?: { addrs: string; nodes: { host: string; port: number }[] };
  /** single-node KRaft Kafka: brokers ["127.0.0.1:port"] */
  kafka?: { brokers: string[] };
  /** three-broker KRaft Kafka */
  kafka3?: { brokers: string[] };
  /** Kubernetes control plane with kwok: kubeconfig path usable by kubectl, helm and client-node */
  kube?: { kubeconfig: string; server: string; kubectl: string; helm: string };
  /**
   * A real node registered with `kube` (kubelet + containerd + runc + CNI bridge, kube-proxy, CoreDNS): pods run for
   * real. Target it with the nodeSelector `kubernetes.io/hostname: <name>`; `images` are imported into its containerd
   * (use `imagePullPolicy: IfNotPresent` or `Never`: no registry is reachable).
   */
  node?: {
    name: string;
    /** node IP: kubelet, CoreDNS (port 53) and the API server's advertise address */
    ip: string;
    podCidr: string;
    serviceCidr: string;
    /** the cluster DNS server pods use (CoreDNS on the node IP; answers cluster.local only) */
    dns: string;
    images: string[];
  };
  /**
   * Redis over TLS only (throwaway CA in `ca`), default user off, one ACL user (`acl`: the product's keys and channels,
   * no admin or dangerous commands). The credentials are generated per start, for tests only.
   */
  redisTls?: {
    addr: string;
    host: string;
    port: number;
    ca: string;
    username: string;
    password: string;
    acl: string;
  };
  /** single KRaft Kafka whose client listener is SASL_SSL (SCRAM-SHA-512/256 users, throwaway CA in `ca`) */
  kafkaSecure?: { brokers: string[]; ca: string; mechanism: 'scram-sha-512'; username: string; password: string };
  /** Prometheus server and promtool */
  prometheus?: { url: string; promtool: string };
  /**
   * The metrics pipeline on the real node (needs `node`): metrics-server, KEDA, and a Prometheus managed by the
   * Prometheus Operator that picks up ServiceMonitors and PrometheusRules labelled `selectorLabels` in every
   * namespace (as kube-prometheus-stack's does), scraping and evaluating every `scrapeSeconds`.
   */
  metrics?: {
    /** Prometheus from this machine (a ClusterIP Service) */
    prometheusUrl: string;
    /** Prometheus from pods: the FlashSale's default `autoscaling.prometheusAddress` */
    prometheusInCluster: string;
    selectorLabels: Record<string, string>;
    scrapeSeconds: number;
    kedaNamespace: string;
    monitoringNamespace: string;
  };
}

/** Who asked for a service: `cli` (make services-up; never stopped by a test run) or `setup` (a test run). */
export type Owner = 'cli' | 'setup';

export interface UpOptions {
  /** recorded when the service is started; a reused service keeps its first owner */
  owner?: Owner;
}

export interface ServiceStatus {
  name: ServiceName;
  state: 'running' | 'stopped' | 'unhealthy';
  owner?: Owner;
  pids?: number[];
  endpoint?: unknown;
  detail?: string;
}

/** The provider interface: native processes or testcontainers; tests do not know which one runs. */
export interface ServiceProvider {
  readonly kind: 'native' | 'testcontainers';
  install(names: ServiceName[]): Promise<void>;
  up(names: ServiceName[], opts?: UpOptions): Promise<ServiceEndpoints>;
  down(names?: ServiceName[]): Promise<void>;
  /** which of `names` run and answer their health check now */
  status(names?: ServiceName[]): Promise<ServiceStatus[]>;
}
