/** What the harness hands to tests: where each real service listens. Product code never imports this. */
export type ServiceName = 'redis' | 'redisCluster' | 'kafka' | 'kafka3' | 'kube' | 'prometheus';

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
  /** Prometheus server and promtool */
  prometheus?: { url: string; promtool: string };
}

/** The provider interface: native processes or testcontainers; tests do not know which one runs. */
export interface ServiceProvider {
  readonly kind: 'native' | 'testcontainers';
  install(names: ServiceName[]): Promise<void>;
  up(names: ServiceName[]): Promise<ServiceEndpoints>;
  down(names?: ServiceName[]): Promise<void>;
}
