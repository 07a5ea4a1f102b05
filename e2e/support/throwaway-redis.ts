/**
 * A redis-server this test file owns (Debian's, on a free loopback port, data in a temp dir), so it can be killed and
 * started again without disturbing the shared one. AOF on (appendfsync everysec by default), as production runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCommand } from '../../tools/harness/src/services/service.ts';
import { freePort, sleep } from './wait.ts';

export class ThrowawayRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'fse-redis-'));
  port = 0;
  private proc: ChildProcess | undefined;
  output = '';
  readonly fsync: 'always' | 'everysec';

  constructor(opts: { appendfsync?: 'always' | 'everysec' } = {}) {
    this.fsync = opts.appendfsync ?? 'everysec';
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        this.fsync,
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc.stdout?.on('data', (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null)
        throw new Error(`redis-server exited with ${this.proc.exitCode}:\n${this.output}`);
      const pong = await redisCommand(this.port, 'PING').catch(() => '');
      if (pong.startsWith('+PONG')) return;
      await sleep(100);
    }
    throw new Error(`redis-server did not answer on ${this.port}:\n${this.output}`);
  }

  /** SIGTERM: Redis fsyncs the AOF and exits (a restart, a rolling update). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    await exited;
  }

  /** SIGKILL: what is not yet fsynced to the AOF is lost, as in a real crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
