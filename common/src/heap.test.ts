import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { heapFlags } from './heap.ts';

const dir = mkdtempSync(join(tmpdir(), 'heap-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A process that applies the settings as a service's main does, then says what it runs with.
const fixture = join(dir, 'main.ts');
writeFileSync(
  fixture,
  `import { applyHeapSettings, withCompileCache } from ${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)};
const env: Record<string, string | undefined> = { ...process.env, FIRST_PID: process.env.FIRST_PID ?? String(process.pid) };
applyHeapSettings({ maxSemiSpaceMb: Number(process.env.SEMI), heapGrowingPercent: Number(process.env.GROW ?? 50), env: withCompileCache(env) });
console.log(JSON.stringify({ pid: process.pid, firstPid: env.FIRST_PID, execArgv: process.execArgv, cache: process.env.NODE_COMPILE_CACHE ?? null }));
`,
);

function run(env: Record<string, string>) {
  const { NODE_COMPILE_CACHE: _drop, ...base } = process.env;
  const r = spawnSync(process.execPath, [fixture], { env: { ...base, TMPDIR: dir, ...env }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { ...JSON.parse(r.stdout), stderr: r.stderr };
}

describe('heapFlags', () => {
  it('adds the flags of non-zero settings that the process does not already have', () => {
    const s = { maxSemiSpaceMb: 12, heapGrowingPercent: 50 };
    expect(heapFlags(s)).toEqual(['--max-semi-space-size=12', '--heap-growing-percent=50']);
    expect(heapFlags(s, ['--max-semi-space-size=64'])).toEqual(['--heap-growing-percent=50']);
    expect(heapFlags({ maxSemiSpaceMb: 0, heapGrowingPercent: 0 })).toEqual([]);
  });
});

describe('applyHeapSettings (real processes)', () => {
  it('re-executes the process in place (same pid) with the flags and the compile cache in the temporary directory', () => {
    const out = run({ SEMI: '8' });
    expect(out.pid).toBe(Number(out.firstPid));
    expect(out.execArgv).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50']);
    expect(out.cache).toBe(join(dir, 'node-compile-cache'));
  });

  it('keeps a NODE_COMPILE_CACHE it was given; the replaced process wrote what it compiled, so the next start reads every module from it', () => {
    const cache = join(dir, 'given');
    const first = run({ SEMI: '8', NODE_COMPILE_CACHE: cache });
    expect(first.cache).toBe(cache);
    // one directory per set of V8 flags: the first process's (written before execve) and the re-executed one's
    expect(readdirSync(cache).length).toBe(2);
    const again = run({ SEMI: '8', NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    const reads = again.stderr
      .split('\n')
      .filter((l: string) => l.includes('reading cache') && l.includes('StrippedTypeScript'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((l: string) => !l.includes('success'))).toEqual([]);
  });

  it('leaves the cache off when NODE_DISABLE_COMPILE_CACHE says so', () => {
    const out = run({ SEMI: '8', NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(out.execArgv).toEqual(['--max-semi-space-size=8', '--heap-growing-percent=50']);
    expect(out.cache).toBeNull();
  });

  it('does nothing when every setting is 0: no re-execution, no cache', () => {
    const out = run({ SEMI: '0', GROW: '0' });
    expect(out.execArgv).toEqual([]);
    expect(out.cache).toBeNull();
    const grow = run({ SEMI: '0' });
    expect(grow.execArgv).toEqual(['--heap-growing-percent=50']);
  });
});
