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
  | 'kafkaSecure';

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
];
/** What `up` with no names and the test global setup start by default. */
export const DEFAULT_SERVICES: readonly ServiceName[] = ['redis', 'kafka', 'kube', 'node', 'prometheus'];

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
