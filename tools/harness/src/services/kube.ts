/**
 * A real Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager + kube-scheduler (built from the Go
 * module proxy) and kwok with one fake Node, so Deployments get Running, Ready pods without a container runtime.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ensureKube } from '../install.ts';
import { KWOK_NODE_NAME, KWOK_TAINT } from '../kwok.ts';
import { nodeIp, SERVICE_CIDR } from '../node-net.ts';
import { binPaths, envFlag, HOST, logFile, ports, serviceDir } from '../paths.ts';
import type { Daemon } from '../proc.ts';
import { assertPortsFree, run, spawnDaemon, waitFor } from '../proc.ts';
import { apiserverCertPaths, ensureApiserverCerts, FRONT_PROXY_CLIENT_CN } from './kube-pki.ts';
import type { NativeService } from './service.ts';

export function kubeconfigPath(): string {
  return join(serviceDir('kube'), 'kubeconfig');
}

/** GET on the API server with the admin token; TLS is self-signed, so verification is off (loopback only). */
export function apiGet(server: string, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}${path}`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 3000 },
      (res) => {
        let body = '';
        res.on('data', (b: Buffer) => {
          body += b.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function readyz(server: string, token: string): Promise<boolean> {
  try {
    const r = await apiGet(server, '/readyz', token);
    return r.status === 200 && r.body.trim() === 'ok';
  } catch {
    return false;
  }
}

/** A throwaway PKI in `pki`: service-account key pair, a CA, and tokens.csv with one admin token (returned). */
export async function makePki(pki: string, logPath: string): Promise<string> {
  const sh = (cmd: string, args: string[]) => run(cmd, args, { cwd: pki, logPath });
  await sh('openssl', ['genrsa', '-out', 'sa.key', '2048']);
  await sh('openssl', ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  await sh('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '3650',
    '-subj',
    '/CN=fse-local-ca',
  ]);
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(pki, 'tokens.csv'), `${token},admin,admin-uid,"system:masters"\n`);
  await ensureApiserverCerts(pki, logPath);
  return token;
}

/** etcd's arguments (single member, loopback, no fsync: test data only). */
export function etcdArgs(o: { name: string; dataDir: string; clientUrl: string; peerUrl: string }): string[] {
  return [
    `--name=${o.name}`,
    `--data-dir=${o.dataDir}`,
    `--listen-client-urls=${o.clientUrl}`,
    `--advertise-client-urls=${o.clientUrl}`,
    `--listen-peer-urls=${o.peerUrl}`,
    `--initial-advertise-peer-urls=${o.peerUrl}`,
    `--initial-cluster=${o.name}=${o.peerUrl}`,
    '--unsafe-no-fsync',
    '--log-level=warn',
    '--quota-backend-bytes=2147483648',
  ];
}

export function waitEtcdHealthy(etcdUrl: string, alive: Daemon[], logPath: string): Promise<unknown> {
  return waitFor(
    `etcd ${etcdUrl}/health`,
    async () => {
      const r = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
      return r.ok && ((await r.json()) as { health?: string }).health === 'true';
    },
    { timeoutMs: 30_000, alive, logPath },
  );
}

/**
 * kube-apiserver's arguments; `pki` (from makePki) holds the keys, tokens.csv and certificates and is its --cert-dir.
 * It listens on every address and advertises the node IP, so pods of the real node reach it through the `kubernetes`
 * Service and verify its certificate with kube-root-ca.crt; kubelets and kube-proxy authenticate with client
 * certificates of the same CA (Node authorizer + NodeRestriction).
 */
export function apiserverArgs(o: { etcdUrl: string; port: number; pki: string; extra?: string[] }): string[] {
  const server = `https://${HOST}:${o.port}`;
  const certs = apiserverCertPaths(o.pki);
  return [
    `--etcd-servers=${o.etcdUrl}`,
    '--bind-address=0.0.0.0',
    `--advertise-address=${nodeIp()}`,
    `--secure-port=${o.port}`,
    `--cert-dir=${o.pki}`,
    `--tls-cert-file=${certs.serving.cert}`,
    `--tls-private-key-file=${certs.serving.key}`,
    `--client-ca-file=${join(o.pki, 'ca.crt')}`,
    `--kubelet-client-certificate=${certs.kubeletClient.cert}`,
    `--kubelet-client-key=${certs.kubeletClient.key}`,
    `--kubelet-certificate-authority=${join(o.pki, 'ca.crt')}`,
    '--kubelet-preferred-address-types=InternalIP',
    // the aggregation layer (metrics-server, KEDA's metrics API server): the front proxy's CA and client certificate;
    // requests go straight to the backing pods' endpoints (this machine reaches the pod network)
    `--requestheader-client-ca-file=${certs.frontProxyCa.cert}`,
    `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${certs.frontProxyClient.cert}`,
    `--proxy-client-key-file=${certs.frontProxyClient.key}`,
    '--enable-aggregator-routing=true',
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${join(o.pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(o.pki, 'sa.key')}`,
    `--token-auth-file=${join(o.pki, 'tokens.csv')}`,
    '--authorization-mode=Node,RBAC',
    // PodNodeSelector + PodTolerationRestriction: namespaces choose the kwok node by annotation (kwok.ts)
    '--enable-admission-plugins=NodeRestriction,PodNodeSelector,PodTolerationRestriction',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=0',
    ...(o.extra ?? []),
  ];
}

export function waitApiserverReady(server: string, token: string, alive: Daemon[], logPath: string): Promise<unknown> {
  return waitFor(`kube-apiserver ${server}/readyz`, () => readyz(server, token), {
    timeoutMs: 90_000,
    intervalMs: 300,
    alive,
    logPath,
  });
}

/** A kubeconfig with the admin token (self-signed TLS, so verification is off: loopback only). */
export function kubeconfigYaml(server: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: fse-local
    cluster:
      server: ${server}
      insecure-skip-tls-verify: true
users:
  - name: fse-admin
    user:
      token: ${token}
contexts:
  - name: fse-local
    context:
      cluster: fse-local
      user: fse-admin
      namespace: default
current-context: fse-local
`;
}

/** The admin token of a kubeconfig written by kubeconfigYaml. */
export function tokenOf(kubeconfig: string): string | undefined {
  try {
    return /token: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Tainted: only namespaces that ask for kwok (kwok.ts) get pods on it. */
const FAKE_NODE = `apiVersion: v1
kind: Node
metadata:
  name: ${KWOK_NODE_NAME}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: ${KWOK_NODE_NAME}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
spec:
  taints:
    - key: ${KWOK_TAINT.key}
      value: ${KWOK_TAINT.value}
      effect: ${KWOK_TAINT.effect}
status:
  allocatable:
    cpu: "64"
    memory: 256Gi
    pods: "500"
  capacity:
    cpu: "64"
    memory: 256Gi
    pods: "500"
`;

export const kube: NativeService<'kube'> = {
  name: 'kube',
  stopOrder: 'reverse',
  install: ensureKube,
  async start(started) {
    const p = ports();
    await assertPortsFree('kube', [
      { port: p.etcd, env: 'FSE_ETCD_PORT' },
      { port: p.etcdPeer, env: 'FSE_ETCD_PEER_PORT' },
      { port: p.apiserver, env: 'FSE_KUBE_APISERVER_PORT' },
    ]);
    const base = serviceDir('kube');
    rmSync(base, { recursive: true, force: true });
    const pki = join(base, 'pki');
    mkdirSync(pki, { recursive: true });
    const logPath = logFile('kube');
    const token = await makePki(pki, logPath);

    // etcd
    const etcdUrl = `http://${HOST}:${p.etcd}`;
    const peerUrl = `http://${HOST}:${p.etcdPeer}`;
    const etcd = spawnDaemon(
      'etcd',
      binPaths.etcd,
      etcdArgs({ name: 'fse', dataDir: join(base, 'etcd'), clientUrl: etcdUrl, peerUrl }),
      { logPath: logFile('kube-etcd'), match: join(base, 'etcd') },
    );
    started.push(etcd);
    await waitEtcdHealthy(etcdUrl, [etcd], logFile('kube-etcd'));

    // API server
    const server = `https://${HOST}:${p.apiserver}`;
    const apiserver = spawnDaemon(
      'kube-apiserver',
      join(binPaths.kubeDir, 'kube-apiserver'),
      apiserverArgs({ etcdUrl, port: p.apiserver, pki }),
      { logPath: logFile('kube-apiserver'), match: pki },
    );
    started.push(apiserver);
    await waitApiserverReady(server, token, [etcd, apiserver], logFile('kube-apiserver'));

    const kubeconfig = kubeconfigPath();
    writeFileSync(kubeconfig, kubeconfigYaml(server, token), { mode: 0o600 });

    const kc = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`];
    started.push(
      spawnDaemon(
        'kube-controller-manager',
        join(binPaths.kubeDir, 'kube-controller-manager'),
        [
          ...kc,
          `--authorization-kubeconfig=${kubeconfig}`,
          `--service-account-private-key-file=${join(pki, 'sa.key')}`,
          `--root-ca-file=${join(pki, 'ca.crt')}`,
          '--leader-elect=false',
          `--bind-address=${HOST}`,
          '--secure-port=0',
          '--use-service-account-credentials=false',
          '--controllers=*,-nodeipam',
          '--concurrent-deployment-syncs=5',
        ],
        { logPath: logFile('kube-controller-manager'), match: kubeconfig },
      ),
      spawnDaemon(
        'kube-scheduler',
        join(binPaths.kubeDir, 'kube-scheduler'),
        [
          ...kc,
          `--authorization-kubeconfig=${kubeconfig}`,
          '--leader-elect=false',
          `--bind-address=${HOST}`,
          '--secure-port=0',
        ],
        { logPath: logFile('kube-scheduler'), match: kubeconfig },
      ),
      spawnDaemon(
        'kwok',
        join(binPaths.kwokDir, 'kwok'),
        [
          `--kubeconfig=${kubeconfig}`,
          `--config=${join(binPaths.kwokDir, 'stages.yaml')}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--cidr=10.0.0.0/24',
          '--node-ip=10.0.0.1',
        ],
        { logPath: logFile('kube-kwok'), match: kubeconfig },
      ),
    );

    const kubectl = binPaths.kubectl;
    const k = (args: string[], input?: string) =>
      run(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { logPath, ...(input === undefined ? {} : { input }) });
    const nodeFile = join(base, 'fake-node.yaml');
    writeFileSync(nodeFile, FAKE_NODE);
    const opts = { timeoutMs: 90_000, intervalMs: 300, alive: started, logPath };
    const nodeReady = async () => {
      await k(['apply', '-f', nodeFile]);
      await waitFor(
        'the kwok node to be Ready',
        async () => {
          const r = await apiGet(server, `/api/v1/nodes/${KWOK_NODE_NAME}`, token);
          if (r.status !== 200) return false;
          const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
          return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        },
        opts,
      );
    };
    const serviceAccount = () =>
      waitFor(
        'the default ServiceAccount (kube-controller-manager is working)',
        async () => (await apiGet(server, '/api/v1/namespaces/default/serviceaccounts/default', token)).status === 200,
        opts,
      );
    const crds = async () => {
      if (!envFlag('FSE_KUBE_PROMETHEUS_CRDS', true)) return;
      await k(['apply', '--server-side', '-f', binPaths.promOperatorCrds]);
      await k(['wait', '--for=condition=Established', '--timeout=60s', '-f', binPaths.promOperatorCrds]);
    };
    await Promise.all([nodeReady(), serviceAccount(), crds()]);
    return { kubeconfig, server, kubectl, helm: binPaths.helm };
  },
  async healthy(e) {
    const token = tokenOf(e.kubeconfig);
    return token ? readyz(e.server, token) : false;
  },
};
