/**
 * The testcontainers provider: Redis, Kafka (KRaft, the apache/kafka image), K3s and Prometheus containers behind the
 * same interface as the native provider. It uses the Docker engine DOCKER_HOST names, or podman's Docker API started
 * by the harness on a machine without one (docker-engine.ts); then Redis and Kafka are the images `make images` builds
 * here (no registry), and services without a local image are refused by name. kubectl and helm come from the npm cache.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DockerEngine, dockerTarget, ensureDockerEngine } from './docker-engine.ts';
import { ensureImages, IMAGE_NAMES, type ImageKey, podman } from './images.ts';
import { ensureKubectlHelm, ensurePromOperatorCrds } from './install.ts';
import { binPaths, dirs, envFlag } from './paths.ts';
import { run, which } from './proc.ts';
import type { ServiceEndpoints, ServiceName, ServiceProvider, ServiceStatus } from './types.ts';

export { dockerEngineAnswers, dockerTarget } from './docker-engine.ts';

export const IMAGES = {
  redis: process.env.FSE_TC_REDIS_IMAGE || IMAGE_NAMES.redis,
  kafka: process.env.FSE_TC_KAFKA_IMAGE || IMAGE_NAMES.kafka,
  k3s: process.env.FSE_TC_K3S_IMAGE || 'rancher/k3s:v1.33.4-k3s1',
  prometheus: process.env.FSE_TC_PROMETHEUS_IMAGE || 'prom/prometheus:v3.5.0',
};

/** The images `make images` builds for a service (on podman's service they are built, never pulled). */
const LOCAL_BUILDS: Partial<Record<ServiceName, { image: string; key: ImageKey; name: string }>> = {
  redis: { image: IMAGES.redis, key: 'redis', name: IMAGE_NAMES.redis },
  kafka: { image: IMAGES.kafka, key: 'kafka', name: IMAGE_NAMES.kafka },
};
const IMAGE_OF: Partial<Record<ServiceName, string>> = {
  redis: IMAGES.redis,
  kafka: IMAGES.kafka,
  kube: IMAGES.k3s,
  prometheus: IMAGES.prometheus,
};

interface Stoppable {
  stop(): Promise<unknown>;
}

export class TestcontainersProvider implements ServiceProvider {
  readonly kind = 'testcontainers' as const;
  private readonly containers = new Map<ServiceName, Stoppable>();
  private readonly endpoints: ServiceEndpoints = {};
  private engine: DockerEngine | undefined;

  /**
   * The engine, and on podman's service (no registry) the images: Redis and Kafka are built here (cached); any other
   * image must already be on this machine, else the service is refused naming the image.
   */
  private async prepare(names: ServiceName[]): Promise<void> {
    this.engine ??= await ensureDockerEngine();
    if (!this.engine.podman) return;
    const builds = names.flatMap((n) => {
      const b = LOCAL_BUILDS[n];
      return b && b.image === b.name ? [b.key] : [];
    });
    if (builds.length) await ensureImages({ only: builds, archives: false });
    const missing: string[] = [];
    for (const n of names) {
      const image = IMAGE_OF[n];
      if (image && (await podman(['image', 'exists', image], { check: false })).code !== 0)
        missing.push(`${n} (image ${image})`);
    }
    if (missing.length) {
      throw new Error(
        `the testcontainers provider on podman (${dockerTarget().label}) has no image for ${missing.join(', ')}: ` +
          'no registry is reachable here and `make images` builds only Redis and Kafka; ' +
          'leave these services out of FSE_SERVICES, or run them with FLASHSALE_E2E_ENV=native',
      );
    }
  }

  async install(names: ServiceName[]): Promise<void> {
    if (names.includes('kube')) await ensureKubectlHelm();
  }

  async up(names: ServiceName[]): Promise<ServiceEndpoints> {
    const unsupported = names.filter(
      (n) => n === 'redisCluster' || n === 'kafka3' || n === 'redisTls' || n === 'kafkaSecure',
    );
    if (unsupported.length) {
      throw new Error(
        `the testcontainers provider does not offer ${unsupported.join(', ')}; ` +
          'run those tests with FLASHSALE_E2E_ENV=native or leave them out of FSE_SERVICES',
      );
    }
    await this.prepare(names);
    await this.install(names);
    await Promise.all(names.filter((n) => !this.containers.has(n)).map((n) => this.startOne(n)));
    const out: ServiceEndpoints = {};
    for (const n of names) (out as Record<string, unknown>)[n] = this.endpoints[n];
    return out;
  }

  private async startOne(name: ServiceName): Promise<void> {
    switch (name) {
      case 'redis': {
        const { RedisContainer } = await import('@testcontainers/redis');
        const c = await new RedisContainer(IMAGES.redis).withCommand(['redis-server', '--appendonly', 'yes']).start();
        this.containers.set(name, c);
        const host = c.getHost();
        const port = c.getPort();
        this.endpoints.redis = { addr: `${host}:${port}`, host, port, dir: '/data' };
        return;
      }
      case 'kafka': {
        const { KafkaKraftContainer } = await import('./kafka-container.ts');
        const c = await new KafkaKraftContainer(IMAGES.kafka).start();
        this.containers.set(name, c);
        this.endpoints.kafka = { brokers: [c.getBootstrapServers()] };
        return;
      }
      case 'kube': {
        const { K3sContainer } = await import('@testcontainers/k3s');
        const c = await new K3sContainer(IMAGES.k3s).start();
        this.containers.set(name, c);
        const dir = join(dirs.run, 'testcontainers');
        mkdirSync(dir, { recursive: true });
        const kubeconfig = join(dir, `kubeconfig-${process.pid}`);
        writeFileSync(kubeconfig, c.getKubeConfig(), { mode: 0o600 });
        const server = /server: (\S+)/.exec(c.getKubeConfig())?.[1] ?? '';
        this.endpoints.kube = { kubeconfig, server, kubectl: binPaths.kubectl, helm: binPaths.helm };
        if (envFlag('FSE_KUBE_PROMETHEUS_CRDS', true)) {
          // the same Prometheus Operator CRDs as the native cluster (PrometheusRule, ServiceMonitor, ...)
          await ensurePromOperatorCrds();
          const k = (args: string[]) => run(binPaths.kubectl, [`--kubeconfig=${kubeconfig}`, ...args]);
          await k(['apply', '--server-side', '-f', binPaths.promOperatorCrds]);
          await k(['wait', '--for=condition=Established', '--timeout=60s', '-f', binPaths.promOperatorCrds]);
        }
        return;
      }
      case 'prometheus': {
        const promtool = await which('promtool');
        if (!promtool)
          throw new Error('promtool is needed on PATH for the prometheus service (Debian: apt-get install prometheus)');
        const { GenericContainer, Wait } = await import('testcontainers');
        const c = await new GenericContainer(IMAGES.prometheus)
          .withExposedPorts(9090)
          .withWaitStrategy(Wait.forHttp('/-/ready', 9090))
          .start();
        this.containers.set(name, c);
        this.endpoints.prometheus = { url: `http://${c.getHost()}:${c.getMappedPort(9090)}`, promtool };
        return;
      }
      default:
        throw new Error(`the testcontainers provider does not offer ${name}`);
    }
  }

  /** Stops the containers (all of them without names, and then podman's service if this provider started it). */
  async down(names?: ServiceName[]): Promise<void> {
    const which = names ?? [...this.containers.keys()];
    await Promise.all(
      which.map(async (n) => {
        const c = this.containers.get(n);
        this.containers.delete(n);
        delete this.endpoints[n];
        await c?.stop();
      }),
    );
    if (!names && this.engine) {
      await this.engine.release();
      this.engine = undefined;
    }
  }

  async status(names?: ServiceName[]): Promise<ServiceStatus[]> {
    const all = names ?? [...this.containers.keys()];
    return all.map((name) =>
      this.containers.has(name)
        ? { name, state: 'running' as const, endpoint: this.endpoints[name] }
        : { name, state: 'stopped' as const },
    );
  }
}
