/**
 * The two images of the metrics pipeline (services/metrics.ts), built with podman on the debootstrap base of
 * images.ts and saved as docker archives for containerd, each only when its inputs changed:
 * - `localhost/fse-metrics-tools:<key>`: KEDA (operator, metrics API server), metrics-server, the Prometheus Operator
 *   and its config reloader, built from the Go module proxy (install.ts, ensureMetricsPipeline);
 * - `localhost/fse-prometheus:v<version>-<key>`: Prometheus, also built from the Go module proxy.
 * Kept apart from `make images`: only the scaling and alerting tests need them, and KEDA's build is the costly one.
 */
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeBuildLeftovers } from './build-leftovers.ts';
import { ensureImages, IMAGE_NAMES, imageDirs, podman } from './images.ts';
import { ensureMetricsPipeline } from './install.ts';
import { binPaths, dirs, VERSIONS } from './paths.ts';
import { withLock } from './proc.ts';

const RECIPES = join(dirname(fileURLToPath(import.meta.url)), '..', 'images');
const LABEL = 'dev.flashsale.inputs';

export interface MetricsImage {
  name: string;
  tags: string[];
  id: string;
  archive: string;
}

export interface MetricsImages {
  tools: MetricsImage;
  prometheus: MetricsImage;
  /** e.g. v3.5.0 (the Prometheus resource's `version`) */
  prometheusVersion: string;
}

const buildLog = (name: string) => join(dirs.logs, `images-${name}.log`);

function sha(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 12);
}

function place(src: string, dest: string) {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
}

/** A built Go component's identity: its .complete stamp (written once per build). */
const stamp = (dir: string) => readFileSync(join(dir, '.complete'), 'utf8');

async function imageId(name: string): Promise<string | undefined> {
  const r = await podman(['image', 'inspect', '--format', `{{.Id}} {{index .Labels "${LABEL}"}}`, name], {
    check: false,
  });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Builds `recipe` as `name` unless an image of that name carries the same inputs key; returns its ID. */
async function build(recipe: string, name: string, key: string, fill: (ctx: string) => void): Promise<string> {
  const have = await imageId(name);
  if (have?.endsWith(` ${key}`)) return have.split(' ')[0]!;
  mkdirSync(dirs.build, { recursive: true });
  const ctx = mkdtempSync(join(dirs.build, `image-${recipe}.`));
  try {
    for (const f of readdirSync(join(RECIPES, recipe))) copyFileSync(join(RECIPES, recipe, f), join(ctx, f));
    fill(ctx);
    const t0 = Date.now();
    await podman(
      [
        'build',
        '--pull=never',
        '--label',
        `${LABEL}=${key}`,
        '--build-arg',
        `BASE=${IMAGE_NAMES.base}`,
        '--tag',
        name,
        '--file',
        join(ctx, 'Containerfile'),
        ctx,
      ],
      { logPath: buildLog(recipe) },
    );
    process.stderr.write(`harness: podman build ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  const now = await imageId(name);
  if (!now) throw new Error(`podman build did not produce ${name}`);
  return now.split(' ')[0]!;
}

async function save(key: string, img: { name: string; id: string }): Promise<string> {
  mkdirSync(imageDirs.archives, { recursive: true });
  const archive = join(imageDirs.archives, `${key}.tar`);
  const idFile = `${archive}.id`;
  if (existsSync(archive) && existsSync(idFile) && readFileSync(idFile, 'utf8').trim() === img.id) return archive;
  const tmp = `${archive}.${process.pid}.tmp`;
  await podman(['save', '--format', 'docker-archive', '--output', tmp, img.name], { logPath: buildLog('save') });
  renameSync(tmp, archive);
  writeFileSync(idFile, `${img.id}\n`);
  return archive;
}

export async function ensureMetricsImages(): Promise<MetricsImages> {
  await ensureMetricsPipeline();
  // the debootstrap base (and podman's set-up) from images.ts; pause is the cheapest image that needs it
  await ensureImages({ only: ['pause'], archives: false });
  const version = `v${VERSIONS.prometheus}`;
  return withLock('metrics-images', async () => {
    // leftovers of a run that was killed (we hold the lock, so none is in use)
    removeBuildLeftovers(['image-metrics-tools.', 'image-prometheus.']);
    const recipe = (r: string) => readdirSync(join(RECIPES, r)).flatMap((f) => [f, readFileSync(join(RECIPES, r, f))]);
    const base = (await imageId(IMAGE_NAMES.base))?.split(' ')[0] ?? '';
    const toolsKey = sha([
      base,
      ...recipe('metrics-tools'),
      stamp(binPaths.kedaDir),
      stamp(binPaths.promOperatorDir),
      stamp(dirname(binPaths.metricsServer)),
    ]);
    const tools = `localhost/fse-metrics-tools:${toolsKey}`;
    const toolsId = await build('metrics-tools', tools, toolsKey, (ctx) => {
      for (const f of ['keda', 'keda-adapter']) place(join(binPaths.kedaDir, f), join(ctx, f));
      for (const f of ['operator', 'prometheus-config-reloader'])
        place(join(binPaths.promOperatorDir, f), join(ctx, f));
      place(binPaths.metricsServer, join(ctx, 'metrics-server'));
    });
    const promKey = sha([base, ...recipe('prometheus'), stamp(dirname(binPaths.prometheusServer))]);
    const prom = `localhost/fse-prometheus:${version}-${promKey}`;
    const promId = await build('prometheus', prom, promKey, (ctx) => {
      place(binPaths.prometheusServer, join(ctx, 'prometheus'));
    });
    return {
      tools: {
        name: tools,
        tags: [tools],
        id: toolsId,
        archive: await save('metrics-tools', { name: tools, id: toolsId }),
      },
      prometheus: {
        name: prom,
        tags: [prom],
        id: promId,
        archive: await save('prometheus', { name: prom, id: promId }),
      },
      prometheusVersion: version,
    };
  });
}
