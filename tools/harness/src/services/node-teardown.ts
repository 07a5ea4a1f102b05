/**
 * Tear-down of the real node, so that the next `up` starts on a clean machine: pods removed through CRI (which runs
 * CNI DEL), leftover pod processes and shims killed, mounts under the node's run dir unmounted, the KUBE-* iptables
 * chains of the kubelet and kube-proxy and this node's CNI masquerade chains deleted, the cni0 bridge, the kubepods
 * cgroups, the service-CIDR route and the node IP on `lo` removed. Every step is idempotent and also runs before a
 * start (leftovers of a crashed run).
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { binPaths } from '../paths.ts';
import type { Daemon } from '../proc.ts';
import { isAlive, isOurs, run, sleep, stopDaemons, which } from '../proc.ts';
import type { NodeLayout } from './node-config.ts';
import { CNI_BRIDGE } from './node-config.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';
const POD_LOG_LINKS = '/var/log/containers';

/** Our network's name in the CNI config: its masquerade rules carry it in their comment. */
export const CNI_NETWORK = 'fse-pods';

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo; octal escapes decoded). */
export function mountsUnder(dir: string): string[] {
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = decode(mp);
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir` (stacked mounts included); lazily when a mount is busy. */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dir);
    if (!mounts.length) return;
    for (const m of mounts) {
      const r = await run('umount', [m], { check: false });
      if (r.code !== 0) await run('umount', ['-l', m], { check: false });
    }
  }
  const left = mountsUnder(dir);
  if (left.length) throw new Error(`could not unmount ${left.join(', ')}`);
}

/** Cgroup directories named `kubepods` at the top of each hierarchy (cgroup v1 controllers and the v2 mount). */
function kubepodsCgroups(): string[] {
  let ctrls: string[] = [];
  try {
    ctrls = readdirSync(CGROUP_ROOT);
  } catch {
    return [];
  }
  return ctrls.map((c) => join(CGROUP_ROOT, c, 'kubepods')).filter((d) => existsSync(d));
}

function walkDirs(dir: string): string[] {
  const out = [dir];
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...walkDirs(join(dir, e.name)));
  return out;
}

/** Pids in the kubepods cgroups: only pod processes (sandboxes and containers) the kubelet put there. */
function podPids(): number[] {
  const pids = new Set<number>();
  for (const root of kubepodsCgroups()) {
    for (const d of walkDirs(root)) {
      try {
        for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
      } catch {
        /* removed meanwhile */
      }
    }
  }
  return [...pids];
}

/** containerd shims started by OUR containerd (their command line names our socket). */
function ourShims(socket: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('containerd-shim-runc-v2') && cmd.includes(socket)) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}

async function killAndWait(pids: number[]): Promise<void> {
  for (const p of pids) kill(p);
  const until = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < until) await sleep(50);
}

/** Removes the kubepods cgroup trees (children first); a cgroup still holding a process stays. */
async function removeKubepodsCgroups(): Promise<string[]> {
  const left: string[] = [];
  for (const root of kubepodsCgroups()) {
    for (const d of walkDirs(root).sort((a, b) => b.length - a.length)) {
      for (let i = 0; i < 20; i++) {
        try {
          rmdirSync(d);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (i === 19) left.push(d);
          else await sleep(100);
        }
      }
    }
  }
  return left;
}

/** Splits one line of `iptables -S` into arguments (double-quoted strings with backslash escapes). */
export function splitRule(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? ''));
  }
  return out;
}

/**
 * Deletes the chains this node made in one table: every KUBE-* chain (kubelet, kube-proxy: no other Kubernetes node
 * runs on these machines) and the CNI-* masquerade chains whose rule names our CNI network (other CNI users keep theirs).
 */
export async function cleanTable(cmd: string, table: string): Promise<void> {
  const r = await run(cmd, ['-w', '5', '-t', table, '-S'], { check: false });
  if (r.code !== 0) return;
  const lines = r.stdout.split('\n').filter(Boolean);
  const ours = new Set<string>();
  for (const l of lines) {
    const a = splitRule(l);
    if (a[0] === '-N' && a[1]?.startsWith('KUBE-')) ours.add(a[1]);
    const target = a[a.indexOf('-j') + 1];
    if (a[0] === '-A' && target?.startsWith('CNI-') && l.includes(`name: \\"${CNI_NETWORK}\\"`)) ours.add(target);
  }
  if (!ours.size) return;
  // first the jumps into our chains from chains that stay (built-in ones and others'), then our chains themselves
  for (const l of lines) {
    const a = splitRule(l);
    if (a[0] !== '-A' || ours.has(a[1] ?? '')) continue;
    if (!ours.has(a[a.indexOf('-j') + 1] ?? '')) continue;
    await run(cmd, ['-w', '5', '-t', table, '-D', ...a.slice(1)], { check: false });
  }
  for (const c of ours) await run(cmd, ['-w', '5', '-t', table, '-F', c], { check: false });
  for (const c of ours) await run(cmd, ['-w', '5', '-t', table, '-X', c], { check: false });
}

async function cleanIptables(): Promise<void> {
  for (const cmd of ['iptables', 'ip6tables']) {
    if (!(await which(cmd))) continue;
    for (const table of ['nat', 'filter', 'mangle', 'raw']) await cleanTable(cmd, table);
  }
}

/** The kubelet links each container's log into /var/log/containers; drop the links into our pod log dir. */
function removePodLogLinks(podLogs: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(POD_LOG_LINKS);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(POD_LOG_LINKS, n);
    try {
      if (readlinkSync(p).startsWith(`${podLogs}/`)) rmSync(p, { force: true });
    } catch {
      /* not a link */
    }
  }
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', name], { check: false })).code === 0;
}

/** Removes pods through CRI while containerd still runs: CNI DEL frees addresses and masquerade rules. */
async function removePods(l: NodeLayout): Promise<void> {
  if (!existsSync(binPaths.crictl) || !existsSync(l.containerdSocket)) return;
  const endpoint = `unix://${l.containerdSocket}`;
  await run(
    binPaths.crictl,
    ['--runtime-endpoint', endpoint, '--image-endpoint', endpoint, '--timeout', '60s', 'rmp', '--all', '--force'],
    { check: false, logPath: join(l.base, 'teardown.log') },
  );
}

export interface NetState {
  /** the node IP was added to lo by us (remove it again) */
  addedIp?: string;
  serviceCidr: string;
}

/**
 * The whole tear-down. `daemons` are the node's processes in start order, containerd first; those still ours are
 * stopped (containerd last, after the pods are gone).
 */
export async function teardownNode(l: NodeLayout, daemons: Daemon[], net: NetState | undefined): Promise<void> {
  const containerd = daemons.find((d) => d.name === 'containerd');
  await stopDaemons(daemons.filter((d) => d !== containerd).reverse());
  if (containerd && isOurs(containerd)) await removePods(l);
  if (containerd) await stopDaemons([containerd]);
  await killAndWait([...podPids(), ...ourShims(l.containerdSocket)]);
  await unmountUnder(l.base);
  await cleanIptables();
  if (await linkExists(CNI_BRIDGE)) await run('ip', ['link', 'del', CNI_BRIDGE], { check: false });
  const stuck = await removeKubepodsCgroups();
  if (net) {
    await run('ip', ['route', 'del', 'local', net.serviceCidr, 'dev', 'lo', 'table', 'local'], { check: false });
    if (net.addedIp) await run('ip', ['addr', 'del', `${net.addedIp}/32`, 'dev', 'lo'], { check: false });
  }
  removePodLogLinks(l.podLogs);
  if (existsSync(l.base) && statSync(l.base).isDirectory()) rmSync(l.base, { recursive: true, force: true });
  if (stuck.length) throw new Error(`node tear-down: cgroups still in use: ${stuck.join(', ')}`);
}
