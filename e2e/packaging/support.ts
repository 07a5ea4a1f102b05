/** Helpers of the packaging tests: run helm/kubectl/promtool, render the chart, parse manifests. */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

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
