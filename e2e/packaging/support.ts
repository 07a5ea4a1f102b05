/** Helpers of the packaging tests: run helm/kubectl/promtool, render the chart, parse manifests. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { freePort } from '../support/wait.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CHART = join(ROOT, 'charts', 'flash-sale-operator');
/** The chart's values sets (chart-testing convention: ci/*-values.yaml), plus the defaults. */
export const VALUES_SETS: { name: string; file?: string }[] = [
  { name: 'default' },
  ...readdirSync(join(CHART, 'ci'))
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => ({ name: f.replace(/-values\.yaml$/, ''), file: join(CHART, 'ci', f) })),
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs a program; never throws on a non-zero exit (the caller asserts on `code`). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        env: opts.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: opts.timeoutMs ?? 120_000,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs and throws with the output when the exit code is not 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field in the tests
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  data?: any;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  rules?: any;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  subjects?: any;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === 'object' && 'kind' in o);
}

export function find(objs: K8sObject[], kind: string, name?: string): K8sObject[] {
  return objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function one(objs: K8sObject[], kind: string, name?: string): K8sObject {
  const found = find(objs, kind, name);
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0]!;
}

/** `helm template` arguments for one values set. */
export function templateArgs(
  release: string,
  namespace: string,
  set: { file?: string },
  extra: string[] = [],
): string[] {
  return ['template', release, CHART, '--namespace', namespace, ...(set.file ? ['-f', set.file] : []), ...extra];
}

export interface ScrapeTarget {
  job: string;
  target: string;
  labels: Record<string, string>;
  honorLabels?: boolean;
}

/**
 * A Prometheus of its own (Debian's binary, next to promtool) scraping `targets` every second, in `dir`.
 * Returns its URL and the child (stop it with SIGTERM).
 */
export async function startPrometheus(
  promtool: string,
  dir: string,
  targets: ScrapeTarget[],
): Promise<{ url: string; child: ChildProcess; log: () => string }> {
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  const lines = ['global: { scrape_interval: 1s, evaluation_interval: 1s }', 'scrape_configs:'];
  for (const t of targets) {
    const labels = Object.entries(t.labels)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join(', ');
    lines.push(`  - job_name: ${t.job}`);
    if (t.honorLabels) lines.push('    honor_labels: true');
    lines.push(`    static_configs: [{ targets: ['${t.target}'], labels: { ${labels} } }]`);
  }
  writeFileSync(config, `${lines.join('\n')}\n`);
  await runOk(promtool, ['check', 'config', config]);
  let out = '';
  const child = spawn(
    join(dirname(promtool), 'prometheus'),
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'prom-data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${out}`);
    if (
      await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, log: () => out };
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query; only samples with a finite value. */
export async function promQuery(url: string, expr: string): Promise<PromSample[]> {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { status: string; error?: string; data: { result: PromSample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result.filter((s) => Number.isFinite(Number(s.value[1])));
}

/** A dashboard expression with its Grafana variables filled in. */
export function fillVariables(expr: string, vars: { namespace: string; sale: string; rateInterval?: string }): string {
  return expr
    .replaceAll('$namespace', vars.namespace)
    .replaceAll('$sale', vars.sale)
    .replaceAll('$__rate_interval', vars.rateInterval ?? '30s');
}
