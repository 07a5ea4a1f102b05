/**
 * `redisTls`: Redis 7 (Debian's redis-server, built with TLS) serving TLS only (no plaintext port), with the default
 * user disabled and one ACL user limited to the product's keys and channels (`fs:*`) and without admin or dangerous
 * commands. The CA, server certificate and the user's password are generated into the run dir on every start.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ensureApt } from '../install.ts';
import { HOST, logFile, ports, serviceDir } from '../paths.ts';
import { assertPortsFree, spawnDaemon, waitFor } from '../proc.ts';
import { makeCerts, throwawayPassword } from './certs.ts';
import type { Endpoint, NativeService } from './service.ts';

export const REDIS_TLS_USER = 'flashsale';
/** What the product needs: its keys and channels, scripts, reads; no admin, no KEYS/FLUSHALL/CONFIG/DEBUG. */
export const REDIS_TLS_ACL = '~fs:* &fs:* +@all -@admin -@dangerous +info';

/** PING over TLS with the ACL user (AUTH first); true on +PONG. */
export function tlsRedisPing(e: Endpoint<'redisTls'>, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: e.host, port: e.port, ca: readFileSync(e.ca), servername: 'localhost' });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('secureConnect', () => s.write(`AUTH ${e.username} ${e.password}\r\nPING\r\n`));
    s.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('+PONG')) done(true);
      else if (buf.includes('-')) done(false);
    });
    s.once('error', () => done(false));
  });
}

export const redisTls: NativeService<'redisTls'> = {
  name: 'redisTls',
  install: () => ensureApt({ 'redis-server': 'redis-server', 'redis-cli': 'redis-tools' }),
  async start(started) {
    const port = ports().redisTls;
    await assertPortsFree('redisTls', [{ port, env: 'FSE_REDIS_TLS_PORT' }]);
    const base = serviceDir('redisTls');
    rmSync(base, { recursive: true, force: true });
    const dir = join(base, 'data');
    mkdirSync(dir, { recursive: true });
    const tls = await makeCerts(join(base, 'tls'), 'redis-tls');
    const password = throwawayPassword('r');
    const aclFile = join(base, 'users.acl');
    writeFileSync(aclFile, `user default off\nuser ${REDIS_TLS_USER} on >${password} ${REDIS_TLS_ACL}\n`, {
      mode: 0o600,
    });
    const logPath = logFile('redisTls');
    const d = spawnDaemon(
      'redisTls',
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        HOST,
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.ca,
        '--tls-auth-clients',
        'no',
        '--aclfile',
        aclFile,
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { logPath, match: `redis-server ${HOST}:${port}` },
    );
    started.push(d);
    const endpoint: Endpoint<'redisTls'> = {
      addr: `${HOST}:${port}`,
      host: HOST,
      port,
      ca: tls.ca,
      username: REDIS_TLS_USER,
      password,
      acl: REDIS_TLS_ACL,
    };
    await waitFor(`redisTls on ${HOST}:${port}`, () => tlsRedisPing(endpoint), {
      timeoutMs: 20_000,
      alive: [d],
      logPath,
    });
    return endpoint;
  },
  healthy: (e) => tlsRedisPing(e),
};
