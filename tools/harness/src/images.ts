/**
 * Container images built on this machine without a registry (podman on a debootstrap base), cached:
 * the product image from the repository's Dockerfile and the images the quick start and the real node run (Redis,
 * Kafka, pause), each tagged with the name a user's cluster would pull. For containerd, every image is also saved as a
 * docker archive, re-saved only when its image ID changes. `make images` runs this; docs/local-services.md has times.
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
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, matchesGlob } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeBuildLeftovers } from './build-leftovers.ts';
import { ensureApt, ensureKafka } from './install.ts';
import { binPaths, dirs, VERSIONS } from './paths.ts';
import { run, withLock } from './proc.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RECIPES = join(HERE, '..', 'images');
const ROOT = join(HERE, '..', '..', '..');

export const IMAGE_VERSIONS = {
  debian: 'bookworm',
  node: readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim().replace(/^v/, ''),
  /** the npm that Node 24.21.0 bundles (its CHANGELOG: "upgrade npm to 11.19.0") */
  npm: '11.19.0',
  redis: '7.0.15',
  kafka: VERSIONS.kafka,
  /** the pause image kubelet 1.36 and containerd 2 ask for by default */
  pause: '3.10',
  /** the chart's appVersion: the product image's tag */
  product: /^appVersion:\s*"?([^"\s]+)"?/m.exec(
    readFileSync(join(ROOT, 'charts', 'flash-sale-operator', 'Chart.yaml'), 'utf8'),
  )?.[1],
} as const;

const PRODUCT_REPO = 'ghcr.io/flash-sale-engine/flash-sale-engine';

/** The names the images carry (what a Dockerfile FROM, the chart, the operator and containerd look for). */
export const IMAGE_NAMES = {
  base: `localhost/fse-debian-base:${IMAGE_VERSIONS.debian}`,
  node: `docker.io/library/node:${IMAGE_VERSIONS.node}-bookworm-slim`,
  product: `${PRODUCT_REPO}:${IMAGE_VERSIONS.product}`,
  /** the same image under a second tag, for blue-green upgrade tests */
  productNext: `${PRODUCT_REPO}:${IMAGE_VERSIONS.product}-next`,
  redis: `docker.io/library/redis:${IMAGE_VERSIONS.redis}-bookworm`,
  kafka: `docker.io/apache/kafka:${IMAGE_VERSIONS.kafka}`,
  pause: `registry.k8s.io/pause:${IMAGE_VERSIONS.pause}`,
} as const;

export type ImageKey = 'node' | 'product' | 'redis' | 'kafka' | 'pause';
const ALL_IMAGES: readonly ImageKey[] = ['node', 'product', 'redis', 'kafka', 'pause'];

export interface BuiltImage {
  key: ImageKey;
  /** the main name (first tag) */
  name: string;
  /** every name the image carries here and in its archive */
  tags: string[];
  /** podman's image ID (sha256 hex) */
  id: string;
  sizeBytes: number;
  /** docker archive of the image with all its tags (`ctr -n k8s.io images import <archive>`); '' when not saved */
  archive: string;
}

export type ImageSet = { [K in ImageKey]?: BuiltImage };

export const imageDirs = {
  root: join(dirs.home, 'images'),
  archives: join(dirs.home, 'images', 'archives'),
  downloads: join(dirs.home, 'images', 'downloads'),
  containersConf: join(dirs.home, 'images', 'containers.conf'),
};

const DEBIAN_MIRROR = process.env.FSE_DEBIAN_MIRROR || 'http://deb.debian.org/debian';
const LABEL = 'dev.flashsale.inputs';

function log(msg: string) {
  process.stderr.write(`harness: ${msg}\n`);
}

const buildLog = (name: string) => join(dirs.logs, `images-${name}.log`);

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  log(`${what} ...`);
  const r = await fn();
  log(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

// The sandbox cannot raise rlimits above its own hard limit (no CAP_SYS_RESOURCE) and crun refuses its hybrid
// cgroups: every podman call here uses this file (../shared/docs/containers.md).
const CONTAINERS_CONF = `# written by tools/harness/src/images.ts
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]

[engine]
runtime = "runc"
`;

/** The environment for podman (and for testcontainers talking to `podman system service`). */
export function podmanEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, CONTAINERS_CONF: imageDirs.containersConf };
}

export function podman(args: string[], opts: { logPath?: string; check?: boolean; cwd?: string } = {}) {
  return run('podman', args, { ...opts, env: podmanEnv() });
}

/** podman + runc (Debian packages) and the containers.conf every podman call here uses. */
export async function ensurePodman(): Promise<void> {
  await ensureApt({ podman: 'podman', runc: 'runc' });
  mkdirSync(imageDirs.root, { recursive: true });
  const current = existsSync(imageDirs.containersConf) ? readFileSync(imageDirs.containersConf, 'utf8') : '';
  if (current !== CONTAINERS_CONF) writeFileSync(imageDirs.containersConf, CONTAINERS_CONF);
}

interface Inspected {
  id: string;
  size: number;
  inputs: string;
}

async function inspect(name: string): Promise<Inspected | undefined> {
  const r = await podman(['image', 'inspect', '--format', `{{.Id}} {{.Size}} {{index .Labels "${LABEL}"}}`, name], {
    check: false,
  });
  if (r.code !== 0) return undefined;
  const [id = '', size = '0', inputs = ''] = r.stdout.trim().split(' ');
  return { id, size: Number(size), inputs: inputs === '<no' ? '' : inputs };
}

/** Removes an image a rebuild replaced (now untagged); kept when a container or a child image still uses it. */
async function dropSuperseded(old: Inspected | undefined, now: Inspected): Promise<void> {
  if (old && old.id !== now.id) await podman(['rmi', old.id], { check: false });
}

function sha(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** The files of a recipe folder, for the inputs hash. */
function recipeFiles(name: string): Buffer[] {
  const dir = join(RECIPES, name);
  return readdirSync(dir)
    .sort()
    .flatMap((f) => [Buffer.from(f), readFileSync(join(dir, f))]);
}

/** Hard links (same file system) or copies a file into a build context. */
function place(src: string, dest: string) {
  mkdirSync(dirname(dest), { recursive: true });
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
}

function buildContext(name: string): string {
  mkdirSync(dirs.build, { recursive: true });
  const ctx = mkdtempSync(join(dirs.build, `image-${name}.`));
  for (const f of readdirSync(join(RECIPES, name))) copyFileSync(join(RECIPES, name, f), join(ctx, f));
  return ctx;
}

// ---- the debootstrap base --------------------------------------------------------------------------------------

async function ensureBase(): Promise<Inspected> {
  const script = join(RECIPES, 'debian-base.sh');
  const key = sha([readFileSync(script), IMAGE_VERSIONS.debian, DEBIAN_MIRROR]);
  const have = await inspect(IMAGE_NAMES.base);
  if (have?.inputs === key) return have;
  const tarball = join(imageDirs.downloads, `debian-${IMAGE_VERSIONS.debian}-minbase-${key}.tar`);
  if (!existsSync(tarball)) {
    await ensureApt({ debootstrap: 'debootstrap' });
    mkdirSync(imageDirs.downloads, { recursive: true });
    mkdirSync(dirs.build, { recursive: true });
    await timed(`debootstrap ${IMAGE_VERSIONS.debian} (log ${buildLog('base')})`, () =>
      run(script, [IMAGE_VERSIONS.debian, DEBIAN_MIRROR, tarball], {
        logPath: buildLog('base'),
        env: { ...process.env, TMPDIR: dirs.build },
      }),
    );
  }
  await timed(`podman import ${IMAGE_NAMES.base}`, () =>
    podman(
      [
        'import',
        '--change',
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--change',
        'CMD ["bash"]',
        '--change',
        `LABEL ${LABEL}=${key}`,
        tarball,
        IMAGE_NAMES.base,
      ],
      { logPath: buildLog('base') },
    ),
  );
  const now = await inspect(IMAGE_NAMES.base);
  if (!now) throw new Error(`podman import did not produce ${IMAGE_NAMES.base}`);
  return now;
}

// ---- images from a recipe folder (tools/harness/images/<name>) ---------------------------------------------------

interface Recipe {
  key: Exclude<ImageKey, 'product'>;
  tags: string[];
  buildArgs: Record<string, string>;
  /** extra inputs that decide a rebuild (versions, sizes of large files) */
  inputs: () => string[];
  /** puts the large or host files into the build context */
  fill?: (ctx: string) => Promise<void>;
}

async function npmTarball(): Promise<string> {
  const file = join(imageDirs.downloads, `npm-${IMAGE_VERSIONS.npm}.tgz`);
  if (existsSync(file)) return file;
  const tmp = mkdtempSync(join(imageDirs.downloads, 'npm.'));
  await run('npm', ['pack', `npm@${IMAGE_VERSIONS.npm}`, '--silent'], { cwd: tmp });
  renameSync(join(tmp, `npm-${IMAGE_VERSIONS.npm}.tgz`), file);
  rmSync(tmp, { recursive: true, force: true });
  return file;
}

async function nodeBinary(): Promise<string> {
  const r = await run(join(ROOT, 'tools', 'node-env.sh'), [IMAGE_VERSIONS.node], {
    env: { ...process.env, FSE_HOME: dirs.home },
  });
  return join(r.stdout.trim(), 'node');
}

const hostCaBundle = () =>
  [process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && existsSync(f));

const RECIPE_LIST: Recipe[] = [
  {
    key: 'node',
    tags: [IMAGE_NAMES.node],
    buildArgs: { NODE_VERSION: IMAGE_VERSIONS.node },
    inputs: () => [IMAGE_VERSIONS.node, IMAGE_VERSIONS.npm, readFileSync(hostCaBundle() ?? '/dev/null', 'utf8')],
    fill: async (ctx) => {
      place(await nodeBinary(), join(ctx, 'node'));
      await run('tar', ['xzf', await npmTarball(), '-C', ctx]);
      renameSync(join(ctx, 'package'), join(ctx, 'npm'));
      const ca = hostCaBundle();
      if (ca) copyFileSync(ca, join(ctx, 'ca-certificates.crt'));
      else writeFileSync(join(ctx, 'ca-certificates.crt'), '');
    },
  },
  {
    key: 'redis',
    tags: [IMAGE_NAMES.redis],
    buildArgs: { REDIS_VERSION: IMAGE_VERSIONS.redis },
    inputs: () => [IMAGE_VERSIONS.redis],
  },
  {
    key: 'kafka',
    tags: [IMAGE_NAMES.kafka],
    buildArgs: { KAFKA_VERSION: IMAGE_VERSIONS.kafka },
    inputs: () =>
      readdirSync(binPaths.kafkaLibs)
        .sort()
        .map((f) => `${f}:${statSync(join(binPaths.kafkaLibs, f)).size}`),
    fill: async (ctx) => {
      await ensureKafka();
      for (const f of readdirSync(binPaths.kafkaLibs)) place(join(binPaths.kafkaLibs, f), join(ctx, 'libs', f));
    },
  },
  { key: 'pause', tags: [IMAGE_NAMES.pause], buildArgs: {}, inputs: () => [IMAGE_VERSIONS.pause] },
];

async function ensureRecipe(recipe: Recipe, base: Inspected): Promise<Inspected> {
  if (recipe.key === 'kafka') await ensureKafka();
  const key = sha([base.id, ...recipeFiles(recipe.key), JSON.stringify(recipe.buildArgs), ...recipe.inputs()]);
  const have = await inspect(recipe.tags[0]!);
  if (have?.inputs === key) {
    // all tags present (a tag may have been removed by hand)
    for (const t of recipe.tags.slice(1)) if ((await inspect(t))?.id !== have.id) await podman(['tag', have.id, t]);
    return have;
  }
  const ctx = buildContext(recipe.key);
  try {
    await recipe.fill?.(ctx);
    const args = ['build', '--pull=never', '--layers', '--label', `${LABEL}=${key}`];
    args.push('--build-arg', `BASE=${IMAGE_NAMES.base}`);
    for (const [k, v] of Object.entries(recipe.buildArgs)) args.push('--build-arg', `${k}=${v}`);
    for (const t of recipe.tags) args.push('--tag', t);
    args.push('--file', join(ctx, 'Containerfile'), ctx);
    await timed(`podman build ${recipe.tags.join(', ')} (log ${buildLog(recipe.key)})`, () =>
      podman(args, { logPath: buildLog(recipe.key) }),
    );
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  const now = await inspect(recipe.tags[0]!);
  if (!now) throw new Error(`podman build did not produce ${recipe.tags[0]}`);
  await dropSuperseded(have, now);
  return now;
}

// ---- the product image (the repository's Dockerfile; podman's layer cache makes a rebuild incremental) ----------

/** .dockerignore as this repository writes it: globs, folder patterns, `!` re-includes, the last match wins. */
export function dockerIgnored(path: string, rules: string[]): boolean {
  let out = false;
  for (const raw of rules) {
    const neg = raw.startsWith('!');
    const pat = (neg ? raw.slice(1) : raw).replace(/\/$/, '');
    if (matchesGlob(path, pat) || matchesGlob(path, `${pat}/**`)) out = !neg;
  }
  return out;
}

export function dockerIgnoreRules(root = ROOT): string[] {
  return readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** The build context's files (relative paths) after .dockerignore. */
export function contextFiles(root = ROOT): string[] {
  const rules = dockerIgnoreRules(root);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        // a folder is skipped unless a `!` rule re-includes something beneath it
        if (e.name === 'node_modules' || e.name === '.git') continue;
        if (dockerIgnored(p, rules) && !rules.some((r) => r.startsWith(`!${p}/`))) continue;
        walk(p);
      } else if (!dockerIgnored(p, rules)) out.push(p);
    }
  };
  walk('');
  return out.sort();
}

/**
 * A cached product build is skipped when nothing it reads changed: the context's files (contents), the Dockerfile and
 * the base image. A podman build that hits its layer cache still takes 8-25 s here (it digests node_modules again),
 * and every test run asks for the image.
 */
async function ensureProduct(node: Inspected): Promise<Inspected> {
  const tags = [IMAGE_NAMES.product, IMAGE_NAMES.productNext];
  const files = contextFiles();
  const read = (f: string) => [f, readFileSync(join(ROOT, f))];
  // .dockerignore drops the Dockerfile and itself from the context: both count
  const inputs = sha([node.id, ...read('Dockerfile'), ...read('.dockerignore'), ...files.flatMap(read)]);
  const stamp = join(imageDirs.root, 'product.inputs.json');
  const last = JSON.parse(existsSync(stamp) ? readFileSync(stamp, 'utf8') : '{}') as { inputs?: string; id?: string };
  const have = await inspect(IMAGE_NAMES.product);
  if (last.inputs === inputs && have && have.id === last.id && (await inspect(IMAGE_NAMES.productNext))?.id === have.id)
    return have;
  const args = ['build', '--pull=never', '--layers', '--file', join(ROOT, 'Dockerfile')];
  for (const t of tags) args.push('--tag', t);
  await timed(`podman build ${tags.join(', ')} (Dockerfile; log ${buildLog('product')})`, () =>
    podman([...args, ROOT], { logPath: buildLog('product') }),
  );
  const now = await inspect(IMAGE_NAMES.product);
  if (!now) throw new Error(`podman build did not produce ${IMAGE_NAMES.product}`);
  writeFileSync(stamp, JSON.stringify({ inputs, id: now.id }));
  await dropSuperseded(have, now);
  return now;
}

// ---- archives for containerd --------------------------------------------------------------------------------------

async function saveArchive(key: ImageKey, id: string, tags: string[]): Promise<string> {
  mkdirSync(imageDirs.archives, { recursive: true });
  const archive = join(imageDirs.archives, `${key}.tar`);
  const idFile = `${archive}.id`;
  const saved = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '';
  if (saved === id && existsSync(archive)) return archive;
  rmSync(idFile, { force: true });
  const tmp = `${archive}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  await timed(`podman save ${tags.join(', ')}`, () =>
    podman(['save', '--format', 'docker-archive', '--multi-image-archive', '--output', tmp, ...tags], {
      logPath: buildLog('save'),
    }),
  );
  renameSync(tmp, archive);
  writeFileSync(idFile, `${id}\n`);
  return archive;
}

const TAGS: Record<ImageKey, string[]> = {
  node: [IMAGE_NAMES.node],
  product: [IMAGE_NAMES.product, IMAGE_NAMES.productNext],
  redis: [IMAGE_NAMES.redis],
  kafka: [IMAGE_NAMES.kafka],
  pause: [IMAGE_NAMES.pause],
};

export interface EnsureImagesOptions {
  /** which images (default: all); the base and the node stand-in come along when needed */
  only?: readonly ImageKey[];
  /** save docker archives for containerd (default true; never for the node stand-in, which no pod runs) */
  archives?: boolean;
}

/**
 * Builds what is missing or changed and returns every requested image with its ID, size and archive. Holds a lock,
 * so concurrent callers (test runs, `make images`) build once.
 */
export async function ensureImages(opts: EnsureImagesOptions = {}): Promise<ImageSet> {
  const want = new Set<ImageKey>(opts.only ?? ALL_IMAGES);
  if (!IMAGE_VERSIONS.product) throw new Error('no appVersion in charts/flash-sale-operator/Chart.yaml');
  await ensurePodman();
  return withLock('images', async () => {
    // leftovers of a run that was killed (we hold the lock, so none is in use); only this lock's own: the metrics
    // images build their contexts in the same folder under a lock of their own (metrics-images.ts)
    removeBuildLeftovers(['fse-debootstrap.', ...RECIPE_LIST.map((r) => `image-${r.key}.`)]);
    const base = await ensureBase();
    const built: Partial<Record<ImageKey, Inspected>> = {};
    const recipe = (k: ImageKey) => RECIPE_LIST.find((r) => r.key === k)!;
    // two chains side by side (apt and npm downloads overlap): node -> product, and pause -> redis -> kafka
    // (allSettled: a failed chain must not release the lock while the other still builds)
    const chains = await Promise.allSettled([
      (async () => {
        if (!want.has('node') && !want.has('product')) return;
        const node = await ensureRecipe(recipe('node'), base);
        built.node = node;
        if (want.has('product')) built.product = await ensureProduct(node);
      })(),
      (async () => {
        for (const k of ['pause', 'redis', 'kafka'] as const)
          if (want.has(k)) built[k] = await ensureRecipe(recipe(k), base);
      })(),
    ]);
    for (const c of chains) if (c.status === 'rejected') throw c.reason;
    const out: ImageSet = {};
    for (const k of ALL_IMAGES) {
      const b = built[k];
      if (!b || !want.has(k)) continue;
      const archive = opts.archives === false || k === 'node' ? '' : await saveArchive(k, b.id, TAGS[k]);
      out[k] = { key: k, name: TAGS[k][0]!, tags: TAGS[k], id: b.id, sizeBytes: b.size, archive };
    }
    return out;
  });
}

/** What the real node imports into containerd (`ctr -n k8s.io images import <archive>`): the images pods run. */
export function containerdImports(set: ImageSet): { name: string; tags: string[]; id: string; archive: string }[] {
  return (['pause', 'product', 'redis', 'kafka'] as const)
    .map((k) => set[k])
    .filter((b): b is BuiltImage => b !== undefined && b.archive !== '')
    .map(({ name, tags, id, archive }) => ({ name, tags, id, archive }));
}
