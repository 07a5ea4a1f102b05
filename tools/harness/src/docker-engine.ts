/**
 * The Docker engine API that testcontainers talks to: the one DOCKER_HOST (or /var/run/docker.sock) names, or, on a
 * machine without one, podman's (`podman system service`) on a socket under FSE_HOME, started on demand.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { ensurePodman, podmanEnv } from './images.ts';
import { dirs } from './paths.ts';
import { type Daemon, isOurs, spawnDaemon, stopDaemons, waitFor, withLock } from './proc.ts';

export interface DockerTarget {
  socketPath?: string;
  host?: string;
  port?: number;
  label: string;
}

/** Where the Docker engine API is expected (DOCKER_HOST or the default socket). */
export function dockerTarget(dockerHost = process.env.DOCKER_HOST): DockerTarget {
  if (dockerHost?.startsWith('tcp://')) {
    const u = new URL(dockerHost.replace('tcp://', 'http://'));
    return { host: u.hostname, port: Number(u.port || 2375), label: dockerHost };
  }
  const socketPath = dockerHost?.startsWith('unix://') ? dockerHost.slice('unix://'.length) : '/var/run/docker.sock';
  return { socketPath, label: `unix://${socketPath}` };
}

/** True when a Docker engine answers GET /_ping within the timeout. */
export function dockerEngineAnswers(timeoutMs = 1500, t: DockerTarget = dockerTarget()): Promise<boolean> {
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

/** podman's Docker API socket of this FSE_HOME. */
export const PODMAN_SOCKET = join(dirs.run, 'podman', 'podman.sock');
const PODMAN_HOST = `unix://${PODMAN_SOCKET}`;

export interface DockerEngine {
  label: string;
  /** podman's service of this harness: images come from `make images` (no registry), none is pulled */
  podman: boolean;
  /** stops what this call started (nothing when the engine was already there) */
  release(): Promise<void>;
}

/**
 * A Docker engine for testcontainers: the configured one when it answers, else podman's service (DOCKER_HOST unset or
 * naming its socket), started when needed. Sets DOCKER_HOST, TESTCONTAINERS_RYUK_DISABLED (the Ryuk image cannot be
 * pulled here) and TESTCONTAINERS_HOST_OVERRIDE (this machine has /.dockerenv: testcontainers would otherwise reach
 * mapped ports through a bridge gateway) in this process, for testcontainers.
 */
export async function ensureDockerEngine(): Promise<DockerEngine> {
  const configured = process.env.DOCKER_HOST;
  if (configured !== PODMAN_HOST && (await dockerEngineAnswers())) {
    return { label: dockerTarget().label, podman: false, release: async () => {} };
  }
  if (configured !== undefined && configured !== '' && configured !== PODMAN_HOST) {
    throw new Error(
      `FLASHSALE_E2E_ENV=testcontainers: no Docker engine answered at DOCKER_HOST=${configured} ` +
        `(unset DOCKER_HOST to use podman's Docker API on ${PODMAN_SOCKET}, or FLASHSALE_E2E_ENV=native)`,
    );
  }
  await ensurePodman();
  const target = dockerTarget(PODMAN_HOST);
  let started: Daemon | undefined;
  await withLock('podman-service', async () => {
    if (await dockerEngineAnswers(1500, target)) return;
    mkdirSync(dirname(PODMAN_SOCKET), { recursive: true });
    rmSync(PODMAN_SOCKET, { force: true });
    const logPath = join(dirs.logs, 'podman-service.log');
    const d = spawnDaemon('podman-service', 'podman', ['system', 'service', '--time=0', PODMAN_HOST], {
      env: podmanEnv(),
      logPath,
      match: PODMAN_SOCKET,
    });
    started = d;
    await waitFor('podman system service (Docker API)', () => dockerEngineAnswers(1000, target), {
      timeoutMs: 30_000,
      alive: [d],
      logPath,
    });
  });
  process.env.DOCKER_HOST = PODMAN_HOST;
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
  return {
    label: PODMAN_HOST,
    podman: true,
    release: async () => {
      if (started && isOurs(started)) await stopDaemons([started]);
    },
  };
}
