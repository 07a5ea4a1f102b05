import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive, isOurs, sleep, spawnDaemon, stopDaemons, withLock } from './proc.ts';

describe('harness process helpers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fse-proc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('withLock runs holders of one lock one after the other', async () => {
    const name = `test-${randomUUID().slice(0, 8)}`;
    const events: string[] = [];
    const job = (id: string) =>
      withLock(name, async () => {
        events.push(`${id}+`);
        await sleep(50);
        events.push(`${id}-`);
      });
    await Promise.all([job('a'), job('b')]);
    expect(['a+ a- b+ b-', 'b+ b- a+ a-']).toContain(events.join(' '));
  });

  it('stopDaemons ends a process that ignores SIGTERM with SIGKILL and waits for it', async () => {
    const logPath = join(dir, 'stubborn.log');
    const d = spawnDaemon('stubborn', 'sh', ['-c', "trap '' TERM; echo started; while :; do sleep 0.1; done"], {
      logPath,
      match: 'trap',
    });
    await sleep(200);
    expect(isOurs(d)).toBe(true);
    const t0 = Date.now();
    await stopDaemons([d], 300);
    expect(isAlive(d.pid)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(readFileSync(logPath, 'utf8')).toContain('started');
  });

  it('isOurs refuses a pid whose command line does not match', async () => {
    const d = spawnDaemon('sleeper', 'sleep', ['30'], { logPath: join(dir, 'sleeper.log') });
    expect(isOurs({ ...d, match: 'something-else' })).toBe(false);
    await stopDaemons([d]);
    expect(isOurs(d)).toBe(false);
  });
});
