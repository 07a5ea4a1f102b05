/** Process helpers: detached daemons with pid tracking, clean stop, bounded waits, commands, file locks. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirs } from './paths.ts';

export { sleep };

export interface Daemon {
  name: string;
  pid: number;
  /** a substring of /proc/PID/cmdline that proves the pid is still ours */
  match: string;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie counts as gone
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

export function isOurs(d: Daemon): boolean {
  if (!isAlive(d.pid)) return false;
  try {
    return readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').replaceAll('\0', ' ').includes(d.match);
  } catch {
    return false;
  }
}

/** Starts a long-running process in its own process group, output appended to logPath. */
export function spawnDaemon(
  name: string,
  cmd: string,
  args: string[],
  opts: { logPath: string; cwd?: string; env?: NodeJS.ProcessEnv; match?: string },
): Daemon {
  mkdirSync(dirname(opts.logPath), { recursive: true });
  const fd = openSync(opts.logPath, 'a');
  writeFileSync(fd, `\n=== ${new Date().toISOString()} start ${name}: ${cmd} ${args.join(' ')}\n`);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd}); see ${opts.logPath}`);
  child.on('error', () => {});
  child.unref();
  return { name, pid: child.pid, match: opts.match ?? cmd };
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait for the exit. Only touches pids that are still ours. */
export async function stopDaemons(daemons: Daemon[], graceMs = 10_000): Promise<void> {
  const live = daemons.filter(isOurs);
  for (const d of live) signal(d.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (live.some((d) => isAlive(d.pid)) && Date.now() < deadline) await sleep(100);
  for (const d of live) if (isAlive(d.pid)) signal(d.pid, 'SIGKILL');
  const killDeadline = Date.now() + 10_000;
  while (live.some((d) => isAlive(d.pid)) && Date.now() < killDeadline) await sleep(50);
  const stuck = live.filter((d) => isAlive(d.pid));
  if (stuck.length) throw new Error(`processes did not exit: ${stuck.map((d) => `${d.name}(${d.pid})`).join(', ')}`);
}

function signal(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Polls check() until it returns a truthy value or the deadline passes; the error names what was awaited. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs: number; intervalMs?: number; alive?: Daemon[]; logPath?: string },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    const dead = (opts.alive ?? []).find((d) => !isAlive(d.pid));
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}; see ${opts.logPath ?? 'its log'}`);
    if (Date.now() > deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${why}; see ${opts.logPath ?? 'logs'}`);
    }
    await sleep(opts.intervalMs ?? 200);
  }
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Refuses to start when a port is taken (say by a process another FSE_HOME or a person started). */
export async function assertPortsFree(what: string, list: { port: number; env: string }[]): Promise<void> {
  for (const { port, env } of list) {
    if (await portOpen(port)) {
      throw new Error(
        `${what}: port ${port} on 127.0.0.1 is already in use by a process this harness did not start; stop it or set ${env}`,
      );
    }
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion. With logPath the output is appended there (and not kept). */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; logPath?: string; check?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let fd: number | undefined;
    if (opts.logPath) {
      mkdirSync(dirname(opts.logPath), { recursive: true });
      fd = openSync(opts.logPath, 'a');
      writeFileSync(fd, `\n=== ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
    }
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', fd ?? 'pipe', fd ?? 'pipe'],
    });
    if (fd !== undefined) closeSync(fd);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      const r = { code: code ?? -1, stdout, stderr };
      if (opts.check !== false && r.code !== 0) {
        const where = opts.logPath ? `see ${opts.logPath}` : (stderr || stdout).trim().slice(-2000);
        reject(new Error(`${cmd} ${args.join(' ')} exited with ${r.code}: ${where}`));
      } else resolve(r);
    });
  });
}

export async function which(cmd: string): Promise<string | undefined> {
  const r = await run('sh', ['-c', `command -v ${cmd}`], { check: false });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * A cross-process lock (mkdir is atomic); a lock whose holder died is taken over.
 * Used so that two test runs (or a CLI and a test run) never start or install the same thing at once.
 */
export async function withLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 20 * 60_000): Promise<T> {
  const dir = join(dirs.locks, name);
  mkdirSync(dirs.locks, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        /* being created or removed */
      }
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lock ${dir} is held by pid ${holder}`);
      if (!announced && Number.isInteger(holder)) {
        process.stderr.write(`harness: waiting for lock ${name} (held by pid ${holder})\n`);
        announced = true;
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

export { existsSync };
