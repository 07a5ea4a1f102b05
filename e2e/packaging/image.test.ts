/**
 * The image's file system without Docker (no engine here): the files the Dockerfile's COPY lines take from the build
 * context (filtered by .dockerignore), `npm ci --omit=dev` as in its deps stage (from the local npm cache), then the
 * parts started from that tree. It proves the runtime layout is complete (workspace links, lua/, production
 * dependencies only); it does not prove the base image, tini or the user (those are checked by reading, in
 * generated.test.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, requireService } from '../support/services.ts';
import { ROOT, runOk } from './support.ts';

const redis = requireService('redis');
const kafka = requireService('kafka');
const dir = mkdtempSync(join(tmpdir(), 'fse-image-'));
const app = join(dir, 'app');

/** .dockerignore semantics that this repository uses: globs, directory patterns, `!` re-includes, last match wins. */
function ignored(path: string, rules: string[]): boolean {
  let out = false;
  for (const raw of rules) {
    const neg = raw.startsWith('!');
    const pat = (neg ? raw.slice(1) : raw).replace(/\/$/, '');
    if (matchesGlob(path, pat) || matchesGlob(path, `${pat}/**`)) out = !neg;
  }
  return out;
}

function copyFiltered(src: string, dest: string, rules: string[]): number {
  let n = 0;
  const walk = (abs: string) => {
    const rel = relative(ROOT, abs);
    if (statSync(abs).isDirectory()) {
      // a directory is skipped unless a `!` rule re-includes something beneath it
      if (ignored(rel, rules) && !rules.some((r) => r.startsWith(`!${rel}/`))) return;
      for (const e of readdirSync(abs)) walk(join(abs, e));
      return;
    }
    if (ignored(rel, rules)) return;
    const to = join(dest, relative(src, abs));
    mkdirSync(dirname(to), { recursive: true });
    cpSync(abs, to);
    n += 1;
  };
  walk(src);
  return n;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

beforeAll(async () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = dockerfile.split(/^FROM /m).slice(1);
  // deps stage: the manifests, then npm ci --omit=dev
  for (const [, files, to] of stages[0]!.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
    for (const f of files!.split(' ')) {
      expect(ignored(f, rules), `${f} is needed by the deps stage but .dockerignore drops it`).toBe(false);
      const dest = to!.endsWith('/') ? join(app, to!, f.split('/').pop()!) : join(app, to!);
      mkdirSync(dirname(dest), { recursive: true });
      cpSync(join(ROOT, f), dest);
    }
  }
  // the same command as the deps stage (from the local npm cache when it has everything)
  const npmCi = stages[0]!
    .match(/^\s+npm ci [^\\&\n]+/m)?.[0]
    ?.trim()
    .split(/\s+/);
  expect(npmCi?.slice(0, 3)).toEqual(['npm', 'ci', '--omit=dev']);
  await runOk('npm', [...npmCi!.slice(1), '--prefer-offline'], { cwd: app, timeoutMs: 120_000 });
  // runtime stage: the source folders
  for (const [, src, to] of stages.at(-1)!.matchAll(/^COPY --chown=\S+ (?!--from)(\S+) (\S+)$/gm)) {
    const abs = join(ROOT, src!);
    if (statSync(abs).isDirectory()) expect(copyFiltered(abs, join(app, to!), rules), src).toBeGreaterThan(0);
    else cpSync(abs, join(app, to!.endsWith('/') ? join(to!, src!) : to!));
  }
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startPart(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(process.execPath, args, {
    cwd: app,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  return { child, output: () => out };
}

describe('the image layout (Dockerfile COPY lines + .dockerignore + npm ci --omit=dev)', () => {
  it('holds production dependencies only and no tests', () => {
    expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'testcontainers'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@biomejs'))).toBe(false);
    expect(readdirSync(join(app, 'lua')).sort()).toEqual(readdirSync(join(ROOT, 'lua')).sort());
    const tests: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.name === 'node_modules') continue;
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.test.ts')) tests.push(relative(app, p));
      }
    };
    walk(app);
    expect(tests).toEqual([]);
  });

  it('the gateway starts from it and answers /health over the real Redis and Kafka, then drains on SIGTERM', async () => {
    const port = await freePort();
    const gw = startPart(['gateway/src/main.ts'], {
      SALE_NAME: `t-${randomUUID().slice(0, 8)}`,
      REDIS_ADDR: redis.addr,
      KAFKA_ADDR: kafka.brokers.join(','),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    });
    try {
      const body = await eventually(
        'the gateway /health',
        async () => {
          if (gw.child.exitCode !== null) throw new Error(`gateway exited ${gw.child.exitCode}:\n${gw.output()}`);
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          return r.ok ? ((await r.json()) as { redis: boolean; kafka: boolean }) : undefined;
        },
        30_000,
      );
      expect(body).toMatchObject({ redis: true, kafka: true });
    } finally {
      const exited = new Promise<number | null>((r) => gw.child.once('exit', (code) => r(code)));
      gw.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('the operator and the processor load from it and refuse a bad configuration by name (exit 2)', async () => {
    const operator = await runIn(['operator/src/main.ts'], { LOG_LEVEL: 'loud' });
    expect(operator.code).toBe(2);
    expect(operator.out).toContain('LOG_LEVEL');
    const processor = await runIn(['processor/src/main.ts'], { SALE_NAME: 'Not A Sale' });
    expect(processor.code).toBe(2);
    expect(processor.out).toContain('SALE_NAME');
  });

  it('the CLI runs from it', async () => {
    const cli = await runIn(['cli/src/main.ts', '--help'], {});
    expect(cli.code).toBe(0);
    expect(cli.out).toContain('flashsale');
  });
});

async function runIn(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const p = startPart(args, env);
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
    p.child.once('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  return { code, out: p.output() };
}
