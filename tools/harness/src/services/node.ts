/**
 * A real Kubernetes node beside kwok: containerd v2 + runc + a CNI bridge run the pods, the kubelet registers the node
 * with the `kube` control plane, kube-proxy (iptables) makes ClusterIP Services answer from the host and from pods,
 * CoreDNS (a host process on the node IP) resolves cluster.local. Images come from images.ts, imported into
 * containerd. Needs root (mounts, iptables, cgroups), like the machines `make test` runs on.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerdImports, ensureImages } from '../images.ts';
import { ensureNode } from '../install.ts';
import { NODE_NAME, nodeIp, POD_CIDR, SERVICE_CIDR } from '../node-net.ts';
import { binPaths, dirs, HOST, logFile, ports, serviceDir } from '../paths.ts';
import type { Daemon } from '../proc.ts';
import { assertPortsFree, portOpen, run, spawnDaemon, waitFor } from '../proc.ts';
import { apiGet, kubeconfigPath, tokenOf } from './kube.ts';
import { signCert } from './kube-pki.ts';
import type { NodeLayout } from './node-config.ts';
import {
  certKubeconfig,
  cniConflist,
  containerdToml,
  corefile,
  kubeletYaml,
  kubeProxyYaml,
  nodeLayout,
} from './node-config.ts';
import { importImages } from './node-images.ts';
import type { NetState } from './node-teardown.ts';
import { teardownNode } from './node-teardown.ts';
import type { Endpoint, NativeService } from './service.ts';

/** What the tear-down must undo in the host's network; kept outside run/node (which the tear-down removes). */
const netStatePath = () => join(dirs.run, 'node-net.json');

function readNet(): NetState {
  try {
    return JSON.parse(readFileSync(netStatePath(), 'utf8')) as NetState;
  } catch {
    return { serviceCidr: SERVICE_CIDR };
  }
}

/** The node IP on `lo` unless the machine has it already; the service CIDR routed to `lo` (refused when untranslated). */
async function setupNetwork(ip: string): Promise<NetState> {
  const addrs = (await run('ip', ['-4', '-o', 'addr', 'show'])).stdout;
  const net: NetState = { serviceCidr: SERVICE_CIDR };
  if (!addrs.includes(` ${ip}/`)) {
    await run('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    net.addedIp = ip;
  }
  writeFileSync(netStatePath(), JSON.stringify(net));
  // The service CIDR is local to this machine: a ClusterIP packet kube-proxy has not translated (not yet, or no such
  // Service) is refused here instead of following the default route out. Not `unreachable`: that route fails the
  // host's own connect() before kube-proxy's OUTPUT rules can translate the address.
  await run('ip', ['route', 'replace', 'local', SERVICE_CIDR, 'dev', 'lo']);
  // Services between pods on one bridge need bridged packets to pass iptables (usually on already)
  const bridgeNf = '/proc/sys/net/bridge/bridge-nf-call-iptables';
  if (existsSync(bridgeNf) && readFileSync(bridgeNf, 'utf8').trim() !== '1') writeFileSync(bridgeNf, '1');
  return net;
}

/** Client certificates of the cluster CA for the kubelet and kube-proxy, and the kubelet's serving certificate. */
async function nodeCredentials(l: NodeLayout, ip: string, server: string, logPath: string) {
  const kubePki = join(serviceDir('kube'), 'pki');
  const ca = join(kubePki, 'ca.crt');
  const sign = (name: string, o: { subject: string; usage: 'serverAuth' | 'clientAuth'; sans?: string[] }) =>
    signCert(kubePki, name, { ...o, outDir: l.pki, logPath });
  const [kubelet, serving, proxy] = await Promise.all([
    sign('kubelet-client', { subject: `/O=system:nodes/CN=system:node:${NODE_NAME}`, usage: 'clientAuth' }),
    sign('kubelet-serving', {
      subject: `/CN=${NODE_NAME}`,
      usage: 'serverAuth',
      sans: [`IP:${ip}`, `DNS:${NODE_NAME}`],
    }),
    sign('kube-proxy-client', { subject: '/CN=system:kube-proxy', usage: 'clientAuth' }),
  ]);
  writeFileSync(l.kubeletKubeconfig, certKubeconfig({ server, ca, ...kubelet, user: `system:node:${NODE_NAME}` }), {
    mode: 0o600,
  });
  writeFileSync(l.proxyKubeconfig, certKubeconfig({ server, ca, ...proxy, user: 'system:kube-proxy' }), {
    mode: 0o600,
  });
  return { ca, serving };
}

/** The Node object says Ready (the kubelet reaches this control plane: a restarted `kube` has a new CA and etcd). */
async function nodeReady(server: string, token: string): Promise<boolean> {
  const r = await apiGet(server, `/api/v1/nodes/${NODE_NAME}`, token);
  if (r.status !== 200) return false;
  const n = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

export const node: NativeService<'node'> = {
  name: 'node',
  needs: ['kube'],
  install: ensureNode,
  async start(started) {
    try {
      return await startNode(started);
    } catch (e) {
      // a half-started node is torn down like a running one (mounts, iptables, cgroups)
      await teardownNode(nodeLayout(), started.splice(0), readNet()).catch(() => {});
      throw e;
    }
  },
  async stop(daemons) {
    await teardownNode(nodeLayout(), daemons, readNet());
    rmSync(netStatePath(), { force: true });
    // the Node object goes too (its pods are then garbage-collected); the next start registers it again
    const kubeconfig = kubeconfigPath();
    if (existsSync(kubeconfig)) {
      await run(
        binPaths.kubectl,
        [
          `--kubeconfig=${kubeconfig}`,
          'delete',
          'node',
          NODE_NAME,
          '--ignore-not-found',
          '--wait=false',
          '--request-timeout=5s',
        ],
        { check: false },
      );
    }
  },
  async refresh(e: Endpoint<'node'>) {
    // incremental: podman's layer cache rebuilds only what changed, containerd imports only new image IDs
    const images = containerdImports(await ensureImages());
    return { ...e, images: await importImages(nodeLayout(), images, logFile('node')) };
  },
  async healthy(_e: Endpoint<'node'>) {
    const p = ports();
    const token = tokenOf(kubeconfigPath());
    if (!token) return false;
    const checks = await Promise.all([
      httpOk(`http://127.0.0.1:${p.kubeletHealthz}/healthz`),
      httpOk(`http://127.0.0.1:${p.kubeProxyHealthz}/healthz`),
      httpOk(`http://127.0.0.1:${p.corednsReady}/ready`),
      nodeReady(`https://${HOST}:${p.apiserver}`, token).catch(() => false),
    ]);
    return checks.every(Boolean);
  },
};

async function startNode(started: Daemon[]): Promise<Endpoint<'node'>> {
  const l = nodeLayout();
  const ip = nodeIp();
  const p = ports();
  const logPath = logFile('node');
  const adminKubeconfig = kubeconfigPath();
  const token = tokenOf(adminKubeconfig);
  if (!token) throw new Error(`node: no control plane (${adminKubeconfig} missing); start the kube service first`);
  const server = `https://${HOST}:${p.apiserver}`;
  await assertPortsFree('node', [
    { port: p.kubeletHealthz, env: 'FSE_KUBELET_HEALTHZ_PORT' },
    { port: p.kubeProxyHealthz, env: 'FSE_KUBE_PROXY_HEALTHZ_PORT' },
    { port: p.kubeProxyMetrics, env: 'FSE_KUBE_PROXY_METRICS_PORT' },
    { port: p.corednsHealth, env: 'FSE_COREDNS_HEALTH_PORT' },
    { port: p.corednsReady, env: 'FSE_COREDNS_READY_PORT' },
  ]);
  // the images first: a cold build takes minutes and must not hold a half-started node
  const images = containerdImports(await ensureImages());
  // leftovers of a run that died without its tear-down
  await teardownNode(l, [], readNet());
  for (const d of [l.base, l.containerdRoot, l.cniConfDir, l.kubeletRoot, l.podLogs, l.pki]) {
    mkdirSync(d, { recursive: true });
  }
  await setupNetwork(ip);
  if (await portOpen(p.kubelet, ip)) throw new Error(`node: port ${p.kubelet} on ${ip} is taken; set FSE_KUBELET_PORT`);
  const { ca, serving } = await nodeCredentials(l, ip, server, logPath);

  writeFileSync(l.containerdConfig, containerdToml(l));
  writeFileSync(join(l.cniConfDir, '10-fse-pods.conflist'), cniConflist(l, POD_CIDR));
  writeFileSync(l.resolvConf, `nameserver ${ip}\n`);
  writeFileSync(l.kubeletConfig, kubeletYaml(l, { ip, ca, tlsCert: serving.cert, tlsKey: serving.key, dns: ip }));
  writeFileSync(l.proxyConfig, kubeProxyYaml(l, { name: NODE_NAME, ip, podCidr: POD_CIDR }));
  writeFileSync(l.corefile, corefile({ ip, kubeconfig: adminKubeconfig }));

  // containerd (its shim and ctr next to it on PATH; runc from Debian)
  const containerd = spawnDaemon(
    'containerd',
    join(binPaths.containerdDir, 'containerd'),
    ['--config', l.containerdConfig, '--log-level', 'warn'],
    {
      logPath: logFile('node-containerd'),
      match: l.containerdConfig,
      env: { ...process.env, PATH: `${binPaths.containerdDir}:${process.env.PATH ?? ''}` },
    },
  );
  started.push(containerd);
  const crictl = (args: string[]) =>
    run(binPaths.crictl, [
      '--runtime-endpoint',
      `unix://${l.containerdSocket}`,
      '--image-endpoint',
      `unix://${l.containerdSocket}`,
      '--timeout',
      '60s',
      ...args,
    ]);
  await waitFor('containerd to answer CRI', async () => (await crictl(['info'])).code === 0, {
    timeoutMs: 30_000,
    alive: [containerd],
    logPath: logFile('node-containerd'),
  });
  // sandboxes a crashed run left in containerd's (kept) root
  await crictl(['rmp', '--all', '--force']);
  const imported = await importImages(l, images, logPath);

  started.push(
    spawnDaemon('coredns', binPaths.coredns, ['-conf', l.corefile], {
      logPath: logFile('node-coredns'),
      match: l.corefile,
    }),
    spawnDaemon('kube-proxy', join(binPaths.nodeDir, 'kube-proxy'), [`--config=${l.proxyConfig}`, '--v=0'], {
      logPath: logFile('node-kube-proxy'),
      match: l.proxyConfig,
    }),
    spawnDaemon(
      'kubelet',
      join(binPaths.nodeDir, 'kubelet'),
      [
        `--config=${l.kubeletConfig}`,
        `--kubeconfig=${l.kubeletKubeconfig}`,
        `--root-dir=${l.kubeletRoot}`,
        `--cert-dir=${l.pki}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${ip}`,
        '--v=0',
      ],
      { logPath: logFile('node-kubelet'), match: l.kubeletConfig },
    ),
  );

  const opts = { timeoutMs: 90_000, intervalMs: 300, alive: started, logPath };
  await Promise.all([
    waitFor(`node ${NODE_NAME} to be Ready`, () => nodeReady(server, token), {
      ...opts,
      logPath: logFile('node-kubelet'),
    }),
    waitFor('CoreDNS to be ready', () => httpOk(`http://127.0.0.1:${p.corednsReady}/ready`), {
      ...opts,
      logPath: logFile('node-coredns'),
    }),
    waitFor('kube-proxy to be healthy', () => httpOk(`http://127.0.0.1:${p.kubeProxyHealthz}/healthz`), {
      ...opts,
      logPath: logFile('node-kube-proxy'),
    }),
  ]);
  return { name: NODE_NAME, ip, podCidr: POD_CIDR, serviceCidr: SERVICE_CIDR, dns: ip, images: imported };
}
