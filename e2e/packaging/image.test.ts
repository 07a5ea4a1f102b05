/**
 * The product image itself, built from the Dockerfile by podman (`make images`; tools/harness/src/images.ts) and run
 * the way the chart runs it: uid 10001, read-only root file system, no capabilities, no new privileges. Its
 * gateway and processor sell a sale out over the harness's Redis and Kafka (host network) and end with the audit.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages, IMAGE_NAMES, podmanEnv } from '../../tools/harness/src/images.ts';
import { cacheReads, PARTS, STOP_AT_CONFIG } from '../../tools/warm-compile-cache.ts';
import { assertBooks, auditRun, redisOf, StatusWatch } from '../support/audit.ts';
import { burst } from '../support/load.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { eventually, freePort } from '../support/wait.ts';
import { ROOT, type RunResult, run } from './support.ts';

const redis = requireService('redis');
const kafka = requireService('kafka');
const IMAGE = IMAGE_NAMES.product;
/** how the chart's pods run it */
const LOCKED_DOWN = ['--read-only', '--cap-drop=ALL', '--security-opt', 'no-new-privileges'];
const started: string[] = [];

const podman = (args: string[], timeoutMs = 60_000): Promise<RunResult> =>
  run('podman', args, { env: podmanEnv(), timeoutMs });

/** `podman run --rm` of the image with the chart's restrictions. */
const inImage = (args: string[], extra: string[] = []) =>
  podman(['run', '--rm', ...LOCKED_DOWN, ...extra, IMAGE, ...args]);

beforeAll(async () => {
  // cached: seconds when `make images` already built it (make test does), minutes from nothing
  await ensureImages({ only: ['product'], archives: false });
}, 20 * 60_000);

afterAll(async () => {
  if (started.length) await podman(['rm', '--force', '--time', '5', ...started]);
});

/** A detached container of the image on the host network (the harness's services listen on 127.0.0.1). */
async function startPart(name: string, main: string, env: Record<string, string>): Promise<string> {
  const id = `fse-image-${name}-${randomUUID().slice(0, 8)}`;
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  const r = await podman([
    'run',
    '--detach',
    '--name',
    id,
    '--network',
    'host',
    ...LOCKED_DOWN,
    ...envArgs,
    IMAGE,
    'node',
    main,
  ]);
  expect(r.code, r.stderr).toBe(0);
  started.push(id);
  return id;
}

const logsOf = async (id: string) => {
  const r = await podman(['logs', id]);
  return `${r.stdout}${r.stderr}`;
};

/** Stops a part with SIGTERM (tini forwards it) and returns its exit code. */
async function stopPart(id: string): Promise<number> {
  await podman(['stop', '--time', '30', id], 45_000);
  const r = await podman(['inspect', '--format', '{{.State.ExitCode}}', id]);
  return Number(r.stdout.trim());
}

describe('the product image (podman build of the Dockerfile)', () => {
  it('runs as uid 10001 with a read-only root file system, no capabilities and no new privileges; only /tmp is writable', async () => {
    const r = await inImage([
      'sh',
      '-c',
      'id -u; id -g; grep ^CapEff /proc/self/status; touch /app/x 2>/dev/null && echo app-writable; touch /x 2>/dev/null && echo root-writable; touch /tmp/x && echo tmp-writable',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['10001', '10001', 'CapEff:\t0000000000000000', 'tmp-writable']);
    const user = await podman(['image', 'inspect', '--format', '{{.Config.User}}', IMAGE]);
    expect(user.stdout.trim()).toBe('10001:10001');
  });

  it('carries production dependencies only: no dev or bench packages, no type declarations, no tests, no dangling links', async () => {
    // runs inside the image: what node_modules and /app hold
    const script = `
      const fs = require('node:fs'), path = require('node:path');
      const files = [], dangling = [];
      const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isSymbolicLink()) { if (!fs.existsSync(p)) dangling.push(p); continue; }
        if (e.isDirectory()) walk(p); else files.push(p);
      } };
      walk('/app');
      console.log(JSON.stringify({
        top: fs.readdirSync('/app/node_modules'),
        types: fs.existsSync('/app/node_modules/@types'),
        flashsale: fs.readdirSync('/app/node_modules/@flashsale').sort(),
        dts: files.filter((f) => /\\.d\\.[mc]?ts$/.test(f)).length,
        maps: files.filter((f) => f.endsWith('.map')).length,
        tests: files.filter((f) => !f.includes('/node_modules/') && f.endsWith('.test.ts')),
        lua: fs.readdirSync('/app/lua').sort(),
        dangling,
      }));`;
    const r = await inImage(['node', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout) as Record<string, unknown> & { top: string[] };
    for (const dev of [
      'autocannon',
      'vitest',
      'testcontainers',
      '@testcontainers',
      '@biomejs',
      'typescript',
      'fast-check',
    ])
      expect(got.top, dev).not.toContain(dev);
    for (const prod of [
      'fastify',
      'kafkajs',
      'ioredis',
      'opossum',
      'pino',
      'prom-client',
      'zod',
      '@kubernetes',
      'commander',
    ])
      expect(got.top, prod).toContain(prod);
    expect(got).toMatchObject({ types: false, dts: 0, maps: 0, tests: [], dangling: [] });
    expect(got.flashsale).toEqual(['cli', 'common', 'gateway', 'operator', 'processor']);
    expect(got.lua).toEqual(readdirSync(join(ROOT, 'lua')).sort());
  });

  it('the flashsale CLI and the kubectl plugin run inside (cli/bin reads .nvmrc)', async () => {
    const cli = await inImage(['cli/bin/flashsale', '--help']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('Usage: flashsale');
    const plugin = await inImage(['cli/bin/kubectl-flashsale', '--help']);
    expect(plugin.code, plugin.stderr).toBe(0);
    expect(plugin.stdout).toContain('kubectl flashsale');
  });

  it('the operator and the processor refuse a bad configuration by name (exit 2)', async () => {
    const operator = await inImage(['node', 'operator/src/main.ts'], ['--env', 'LOG_LEVEL=loud']);
    expect(operator.code).toBe(2);
    expect(operator.stdout + operator.stderr).toContain('LOG_LEVEL');
    const processor = await inImage(['node', 'processor/src/main.ts'], ['--env', 'SALE_NAME=Not A Sale']);
    expect(processor.code).toBe(2);
    expect(processor.stdout + processor.stderr).toContain('SALE_NAME');
  });

  it("its parts start from Node's compile cache: every TypeScript module found stripped and compiled, with and without their heap flags", async () => {
    for (const { main, flagSets } of PARTS) {
      for (const flags of flagSets) {
        const env = Object.entries({ ...STOP_AT_CONFIG, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }).flatMap(([k, v]) => [
          '--env',
          `${k}=${v}`,
        ]);
        const r = await inImage(['node', ...flags, main], env);
        expect(r.code, r.stderr.slice(-2000)).toBe(2);
        const { hits, misses } = cacheReads(r.stderr);
        // the gateway loads 40-60 of the repository's modules; a cache that misses loads the type stripper again
        expect(hits, `${main} ${flags.join(' ')}`).toBeGreaterThan(10);
        expect(misses, `${main} ${flags.join(' ')}`).toEqual([]);
      }
    }
  });

  it('its gateway and processor sell a sale out over the real Redis and Kafka: audit clean, JSON logs only, SIGTERM exits 0', async () => {
    const sale = uniqueSale('image');
    const r = redisOf(redis.addr);
    const watch = await new StatusWatch(redis.addr, sale).start();
    try {
      await prepareSale({ redis: r, brokers: kafka.brokers, sale, items: { console: 20 } });
      const env = saleProcEnv(sale, redis.addr, kafka.brokers, { LOG_LEVEL: 'info' });
      const gwPort = await freePort();
      const gateway = await startPart('gateway', 'gateway/src/main.ts', {
        ...env,
        HOST: '127.0.0.1',
        PORT: String(gwPort),
        RATE_LIMIT_ENABLED: 'false',
      });
      const prPort = await freePort();
      const processor = await startPart('processor', 'processor/src/main.ts', {
        ...env,
        METRICS_HOST: '127.0.0.1',
        METRICS_PORT: String(prPort),
        PAYMENT_FAILURE_RATE: '0',
        PAYMENT_LATENCY_MIN: '1ms',
        PAYMENT_LATENCY_MAX: '5ms',
      });
      for (const [name, url] of [
        ['gateway', `http://127.0.0.1:${gwPort}/health`],
        ['processor', `http://127.0.0.1:${prPort}/health`],
      ] as const) {
        const body = await eventually(`the ${name} container's /health`, async () => {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
          return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
        });
        expect(body, name).toMatchObject({ redis: true, kafka: true });
      }

      const log = await burst(`http://127.0.0.1:${gwPort}`, { items: ['console'], total: 40, concurrency: 8 });
      expect(log.accepted.size, JSON.stringify(log.byStatus())).toBeGreaterThanOrEqual(20);
      const figures = await auditRun({ redis: r, sale, accepted: log.accepted, watch });
      assertBooks(figures);
      expect(figures.confirmed).toBe(20);

      for (const id of [gateway, processor]) {
        const lines = (await logsOf(id)).split('\n').filter((l) => l.trim());
        const notJson = lines.filter((l) => {
          try {
            JSON.parse(l);
            return false;
          } catch {
            return true;
          }
        });
        expect(notJson, `${id}: every log line is JSON (no Node warnings)`).toEqual([]);
        expect(lines.length).toBeGreaterThan(0);
      }
      expect(await stopPart(gateway)).toBe(0);
      expect(await stopPart(processor)).toBe(0);
    } finally {
      watch.close();
      r.disconnect();
    }
  }, 180_000);
});
