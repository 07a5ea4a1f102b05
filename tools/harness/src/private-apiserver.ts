/**
 * A private Kubernetes API server for ONE destructive test: its own etcd (so a compaction or a restart touches no
 * other test) and its own kube-apiserver, started with the shared control plane's binaries, argument lists, readiness
 * checks and certificates (copied from the running `kube` service; generated when it has none). No controller-manager,
 * scheduler or kwok: Deployments are stored but never rolled out. The shared services are never touched.
 *
 * The test may SIGKILL the API server and start it again on the same port (same etcd data), compact etcd, and must
 * call stop() at the end; a process exit hook and a sweep of dead owners' leftovers (next start) kill what a crashed
 * test left behind.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKube } from './install.ts';
import { binPaths, dirs, HOST, logFile, serviceDir } from './paths.ts';
import type { Daemon, RunResult } from './proc.ts';
import { isAlive, isOurs, portOpen, run, sleep, spawnDaemon, waitFor, withLock } from './proc.ts';
import {
  apiGet,
  apiserverArgs,
  etcdArgs,
  kubeconfigYaml,
  makePki,
  waitApiserverReady,
  waitEtcdHealthy,
} from './services/kube.ts';
import { ensureApiserverCerts } from './services/kube-pki.ts';

/** Loopback ports for private servers: below the ephemeral range (32768+), clear of 26379-27006 and the defaults. */
const PORT_RANGE = { from: 20_000, to: 26_000 } as const;
const ROOT = join(dirs.run, 'private-kube');

export interface PrivateApiServerOptions {
  /** names the logs (`run/logs/private-kube-<label>-*.log`); default `test` */
  label?: string;
  /** files or directories applied server-side after the first start; every CRD is then awaited Established */
  manifests?: string[];
  /** extra kube-apiserver flags for every start */
  apiserverArgs?: string[];
}

interface State {
  owner: number;
  ports: number[];
  daemons: Daemon[];
}

const live = new Set<PrivateApiServer>();
let exitHook = false;

function sigkill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Kills the processes of private servers whose owner process died (a test worker that crashed). */
function sweepOrphans(): void {
  let ids: string[] = [];
  try {
    ids = readdirSync(ROOT);
  } catch {
    return;
  }
  for (const id of ids) {
    const dir = join(ROOT, id);
    let st: State | undefined;
    try {
      st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
    } catch {
      st = undefined;
    }
    if (st && isAlive(st.owner)) continue;
    for (const d of st?.daemons ?? []) if (isOurs(d)) sigkill(d.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

function reservedPorts(): Set<number> {
  const out = new Set<number>();
  try {
    for (const id of readdirSync(ROOT)) {
      try {
        const st = JSON.parse(readFileSync(join(ROOT, id, 'state.json'), 'utf8')) as State;
        for (const p of st.ports) out.add(p);
      } catch {
        /* being written or removed */
      }
    }
  } catch {
    /* none yet */
  }
  return out;
}

async function pickPorts(n: number): Promise<number[]> {
  const taken = reservedPorts();
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from - n));
    const candidates = Array.from({ length: n }, (_, i) => base + i);
    if (candidates.some((p) => taken.has(p))) continue;
    const open = await Promise.all(candidates.map((p) => portOpen(p)));
    if (!open.some(Boolean)) return candidates;
  }
  throw new Error(`no ${n} free consecutive loopback ports in ${PORT_RANGE.from}-${PORT_RANGE.to}`);
}

export class PrivateApiServer {
  readonly id: string;
  readonly dir: string;
  readonly pki: string;
  readonly label: string;
  readonly ports: { etcd: number; etcdPeer: number; apiserver: number };
  readonly etcdUrl: string;
  /** https://127.0.0.1:port */
  readonly server: string;
  readonly kubeconfig: string;
  readonly kubectlPath = binPaths.kubectl;
  readonly token: string;
  readonly logs: { etcd: string; apiserver: string; kubectl: string };
  private readonly extraArgs: string[];
  private etcd: Daemon | undefined;
  private apiserver: Daemon | undefined;
  /** ms from spawn to /readyz of the latest API server start */
  lastStartMs = 0;

  private constructor(o: { id: string; label: string; ports: number[]; token: string; extraArgs: string[] }) {
    this.id = o.id;
    this.label = o.label;
    this.dir = join(ROOT, o.id);
    this.pki = join(this.dir, 'pki');
    const [etcd = 0, etcdPeer = 0, apiserver = 0] = o.ports;
    this.ports = { etcd, etcdPeer, apiserver };
    this.etcdUrl = `http://${HOST}:${etcd}`;
    this.server = `https://${HOST}:${apiserver}`;
    this.kubeconfig = join(this.dir, 'kubeconfig');
    this.token = o.token;
    this.extraArgs = o.extraArgs;
    const log = (part: string) => logFile(`private-kube-${o.label}-${part}`);
    this.logs = { etcd: log('etcd'), apiserver: log('apiserver'), kubectl: log('kubectl') };
  }

  /** etcd + kube-apiserver on free ports, the manifests applied; resolves once /readyz answers ok. */
  static async start(opts: PrivateApiServerOptions = {}): Promise<PrivateApiServer> {
    await ensureKube();
    const label = opts.label ?? 'test';
    const id = `${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const dir = join(ROOT, id);
    const pki = join(dir, 'pki');
    const s = await withLock('private-kube', async () => {
      sweepOrphans();
      const ports = await pickPorts(3);
      mkdirSync(pki, { recursive: true });
      const state: State = { owner: process.pid, ports, daemons: [] };
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
      return { ports };
    });
    let token: string;
    const shared = join(serviceDir('kube'), 'pki');
    if (existsSync(join(shared, 'tokens.csv')) && existsSync(join(shared, 'sa.key'))) {
      // the shared control plane's certificates and admin token (copied: a restart of it must not pull them away)
      cpSync(shared, pki, { recursive: true });
      token = readFileSync(join(pki, 'tokens.csv'), 'utf8').split(',')[0] ?? '';
      // a control plane started by an older harness has no CA-signed serving certificate yet
      await ensureApiserverCerts(pki, logFile(`private-kube-${label}-kubectl`));
    } else {
      token = await makePki(pki, logFile(`private-kube-${label}-kubectl`));
    }
    const srv = new PrivateApiServer({ id, label, ports: s.ports, token, extraArgs: opts.apiserverArgs ?? [] });
    live.add(srv);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const x of live) x.killAllSync();
      });
    }
    try {
      writeFileSync(srv.kubeconfig, kubeconfigYaml(srv.server, token), { mode: 0o600 });
      srv.etcd = spawnDaemon(
        'private-etcd',
        binPaths.etcd,
        etcdArgs({
          name: 'fse-private',
          dataDir: join(dir, 'etcd'),
          clientUrl: srv.etcdUrl,
          peerUrl: `http://${HOST}:${srv.ports.etcdPeer}`,
        }),
        { logPath: srv.logs.etcd, match: join(dir, 'etcd') },
      );
      srv.saveState();
      await waitEtcdHealthy(srv.etcdUrl, [srv.etcd], srv.logs.etcd);
      await srv.startApiserver();
      for (const m of opts.manifests ?? []) await srv.kubectl(['apply', '--server-side', '--force-conflicts', '-f', m]);
      if (opts.manifests?.length) {
        // retried: right after the apply a CRD may have no status yet, and `kubectl wait` then fails at once
        await waitFor(
          'the CRDs to be Established',
          async () =>
            (
              await run(
                srv.kubectlPath,
                [
                  `--kubeconfig=${srv.kubeconfig}`,
                  'wait',
                  '--for=condition=Established',
                  'crd',
                  '--all',
                  '--timeout=10s',
                ],
                { check: false },
              )
            ).code === 0,
          { timeoutMs: 60_000, intervalMs: 300, alive: [srv.etcd], logPath: srv.logs.apiserver },
        );
      }
      return srv;
    } catch (e) {
      await srv.stop().catch(() => undefined);
      throw e;
    }
  }

  private saveState(): void {
    const daemons = [this.etcd, this.apiserver].filter((d): d is Daemon => d !== undefined);
    const state: State = { owner: process.pid, ports: Object.values(this.ports), daemons };
    writeFileSync(join(this.dir, 'state.json'), JSON.stringify(state));
  }

  get apiserverRunning(): boolean {
    return this.apiserver !== undefined && isAlive(this.apiserver.pid);
  }

  /** Starts the API server (same port, same etcd) and waits for /readyz; returns the ms it took. */
  async startApiserver(extraArgs: string[] = []): Promise<number> {
    if (this.apiserverRunning) throw new Error('the private API server is already running');
    const etcd = this.etcd;
    if (!etcd || !isAlive(etcd.pid)) throw new Error('the private etcd is not running');
    const t0 = Date.now();
    this.apiserver = spawnDaemon(
      'private-kube-apiserver',
      join(binPaths.kubeDir, 'kube-apiserver'),
      apiserverArgs({
        etcdUrl: this.etcdUrl,
        port: this.ports.apiserver,
        pki: this.pki,
        extra: [...this.extraArgs, ...extraArgs],
      }),
      { logPath: this.logs.apiserver, match: this.pki },
    );
    this.saveState();
    await waitApiserverReady(this.server, this.token, [etcd, this.apiserver], this.logs.apiserver);
    this.lastStartMs = Date.now() - t0;
    return this.lastStartMs;
  }

  /** SIGKILL of the API server (a crash: no graceful shutdown), resolved once it has exited. */
  async killApiserver(): Promise<void> {
    const d = this.apiserver;
    if (!d) return;
    if (isOurs(d)) sigkill(d.pid);
    const until = Date.now() + 10_000;
    while (isAlive(d.pid)) {
      if (Date.now() > until) throw new Error(`kube-apiserver ${d.pid} did not exit after SIGKILL`);
      await sleep(20);
    }
    this.apiserver = undefined;
    this.saveState();
  }

  /** SIGKILL and start again; returns the ms from the new spawn to /readyz. */
  async restartApiserver(extraArgs: string[] = []): Promise<number> {
    await this.killApiserver();
    return this.startApiserver(extraArgs);
  }

  /** kubectl against this server (throws on a non-zero exit, with stderr). */
  kubectl(args: string[], input?: string): Promise<RunResult> {
    return run(this.kubectlPath, [`--kubeconfig=${this.kubeconfig}`, ...args], {
      ...(input === undefined ? {} : { input }),
    });
  }

  /** GET with the admin token (e.g. `/metrics`, or a watch with `timeoutSeconds`). */
  get(path: string): Promise<{ status: number; body: string }> {
    return apiGet(this.server, path, this.token);
  }

  private async etcdPost<T>(path: string, body: unknown): Promise<T> {
    const r = await fetch(`${this.etcdUrl}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`etcd ${path}: HTTP ${r.status} ${text}`);
    return JSON.parse(text) as T;
  }

  /** The current etcd revision (the newest resourceVersion). */
  async revision(): Promise<number> {
    const r = await this.etcdPost<{ header: { revision: string } }>('/v3/kv/range', {
      key: Buffer.from('/').toString('base64'),
      limit: 1,
    });
    return Number(r.header.revision);
  }

  /** Compacts etcd up to `revision` (default: the current one): older resourceVersions become unavailable. */
  async compact(revision?: number): Promise<number> {
    const rev = revision ?? (await this.revision());
    await this.etcdPost('/v3/kv/compaction', { revision: String(rev), physical: true });
    return rev;
  }

  /** Is `revision` compacted away (a read at it fails)? */
  async isCompacted(revision: number): Promise<boolean> {
    const r = await fetch(`${this.etcdUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/').toString('base64'), revision: String(revision), limit: 1 }),
      signal: AbortSignal.timeout(5000),
    });
    const text = await r.text();
    return /compacted/.test(text);
  }

  private killAllSync(): void {
    for (const d of [this.apiserver, this.etcd]) if (d && isOurs(d)) sigkill(d.pid);
  }

  /** Kills the API server and etcd (SIGKILL: nothing to keep) and removes the data. */
  async stop(): Promise<void> {
    live.delete(this);
    const ds = [this.apiserver, this.etcd].filter((d): d is Daemon => d !== undefined);
    for (const d of ds) if (isOurs(d)) sigkill(d.pid);
    const until = Date.now() + 10_000;
    while (ds.some((d) => isAlive(d.pid)) && Date.now() < until) await sleep(20);
    this.apiserver = undefined;
    this.etcd = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
