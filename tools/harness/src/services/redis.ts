/** Redis 7 (Debian's redis-server), one process, AOF on by default so that a restart keeps the data. */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureApt } from '../install.ts';
import { envFlag, HOST, logFile, ports, serviceDir } from '../paths.ts';
import { assertPortsFree, spawnDaemon, waitFor } from '../proc.ts';
import type { NativeService } from './service.ts';
import { redisPing } from './service.ts';

export const redis: NativeService<'redis'> = {
  name: 'redis',
  install: () => ensureApt({ 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' }),
  async start(started, { keepData }) {
    const port = ports().redis;
    await assertPortsFree('redis', [{ port, env: 'FSE_REDIS_PORT' }]);
    const dir = join(serviceDir('redis'), 'data');
    if (!keepData) rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const aof = envFlag('FSE_REDIS_APPENDONLY', true);
    const logPath = logFile('redis');
    const d = spawnDaemon(
      'redis',
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        HOST,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        aof ? 'yes' : 'no',
        '--appendfsync',
        'everysec',
        '--daemonize',
        'no',
        '--protected-mode',
        'yes',
      ],
      { logPath, match: `redis-server ${HOST}:${port}` },
    );
    started.push(d);
    await waitFor(`redis on ${HOST}:${port}`, () => redisPing(port), { timeoutMs: 20_000, alive: [d], logPath });
    return { addr: `${HOST}:${port}`, host: HOST, port, dir };
  },
  healthy: (e) => redisPing(e.port),
};
