/** Redis Cluster: six redis-server nodes (3 masters + 3 replicas) made a cluster with redis-cli --cluster create. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureApt } from '../install.ts';
import { HOST, logFile, ports, serviceDir } from '../paths.ts';
import { assertPortsFree, run, spawnDaemon, waitFor } from '../proc.ts';
import type { NativeService } from './service.ts';
import { redisCommand, redisPing } from './service.ts';

async function clusterOk(port: number): Promise<boolean> {
  try {
    return (await redisCommand(port, 'CLUSTER INFO')).includes('cluster_state:ok');
  } catch {
    return false;
  }
}

export const redisCluster: NativeService<'redisCluster'> = {
  name: 'redisCluster',
  install: () => ensureApt({ 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' }),
  async start(started) {
    const nodePorts = ports().redisCluster;
    // each node also listens on its cluster bus port, port + 10000
    await assertPortsFree(
      'redisCluster',
      nodePorts.flatMap((port) => [port, port + 10000]).map((port) => ({ port, env: 'FSE_REDIS_CLUSTER_PORT' })),
    );
    const base = serviceDir('redisCluster');
    const logPath = logFile('redisCluster');
    // cluster membership lives in nodes.conf: always start from clean nodes
    rmSync(base, { recursive: true, force: true });
    for (const port of nodePorts) {
      const dir = join(base, String(port));
      mkdirSync(dir, { recursive: true });
      started.push(
        spawnDaemon(
          `redisCluster:${port}`,
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            HOST,
            '--dir',
            dir,
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
            '--save',
            '',
            '--appendonly',
            'no',
            '--daemonize',
            'no',
          ],
          { logPath, match: `redis-server ${HOST}:${port}` },
        ),
      );
    }
    for (const port of nodePorts) {
      await waitFor(`redis cluster node ${port}`, () => redisPing(port), {
        timeoutMs: 20_000,
        alive: started,
        logPath,
      });
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodePorts.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      { logPath },
    );
    for (const port of nodePorts) {
      await waitFor(`cluster_state:ok on ${port}`, () => clusterOk(port), {
        timeoutMs: 30_000,
        alive: started,
        logPath,
      });
    }
    const nodes = nodePorts.map((port) => ({ host: HOST, port }));
    return { addrs: nodes.map((n) => `${n.host}:${n.port}`).join(','), nodes };
  },
  async healthy(e) {
    for (const n of e.nodes) if (!(await clusterOk(n.port))) return false;
    return true;
  },
};
