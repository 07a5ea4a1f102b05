/**
 * The configuration files of the real node: containerd, the CNI bridge, the kubelet, kube-proxy and CoreDNS, plus the
 * directory layout they share. Pure text builders (node.ts writes them); the settings are the ones that work in this
 * sandbox (no CAP_SYS_RESOURCE, hybrid cgroup v1, no registry), see ../shared/docs/containers.md.
 */
import { join } from 'node:path';
import { binPaths, dirs, ports, serviceDir } from '../paths.ts';

/** The pause image CRI starts each pod sandbox from (imported, never pulled). */
export const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10';
export const CLUSTER_DOMAIN = 'cluster.local';
export const CNI_BRIDGE = 'cni0';

export interface NodeLayout {
  /** run/node: everything below is removed by the tear-down (after unmounting what is mounted there) */
  base: string;
  /** containerd's root: images and snapshots, kept between runs so images are imported once */
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  containerdConfig: string;
  cniConfDir: string;
  cniIpamDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  podLogs: string;
  proxyConfig: string;
  proxyKubeconfig: string;
  corefile: string;
  resolvConf: string;
  pki: string;
}

export function nodeLayout(): NodeLayout {
  const base = serviceDir('node');
  return {
    base,
    containerdRoot: join(dirs.home, 'containerd'),
    containerdState: join(base, 'containerd'),
    // short: a unix socket path must stay under 108 bytes
    containerdSocket: join(base, 'containerd.sock'),
    containerdConfig: join(base, 'containerd.toml'),
    cniConfDir: join(base, 'cni'),
    cniIpamDir: join(base, 'cni-ipam'),
    kubeletRoot: join(base, 'kubelet'),
    kubeletConfig: join(base, 'kubelet.yaml'),
    kubeletKubeconfig: join(base, 'kubelet.kubeconfig'),
    podLogs: join(base, 'pod-logs'),
    proxyConfig: join(base, 'kube-proxy.yaml'),
    proxyKubeconfig: join(base, 'kube-proxy.kubeconfig'),
    corefile: join(base, 'Corefile'),
    resolvConf: join(base, 'resolv.conf'),
    pki: join(base, 'pki'),
  };
}

/** containerd v2 (config version 3): everything under FSE_HOME, runc, the CNI bridge, no NRI/CDI/tracing. */
export function containerdToml(l: NodeLayout): string {
  const q = (s: string) => `'${s}'`;
  return `version = 3
root = ${q(l.containerdRoot)}
state = ${q(l.containerdState)}
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.tracing.processor.v1.otlp', 'io.containerd.internal.v1.tracing']

[grpc]
  address = ${q(l.containerdSocket)}

[plugins]
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${q(PAUSE_IMAGE)}

  [plugins.'io.containerd.cri.v1.runtime']
    # no CAP_SYS_RESOURCE here: a negative oom_score_adj is refused, so clamp to ours
    restrict_oom_score_adj = true
    # hugetlb sits on the cgroup v2 mount of this hybrid layout
    disable_hugetlb_controller = true
    tolerate_missing_hugetlb_controller = true
    enable_cdi = false
    netns_mounts_under_state_dir = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = 'runc'
          Root = ${q(join(l.containerdState, 'runc'))}
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${q(binPaths.cniBinDir)}]
      conf_dir = ${q(l.cniConfDir)}
      max_conf_num = 1
      use_internal_loopback = true

  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'

  [plugins.'io.containerd.internal.v1.opt']
    path = ${q(join(l.containerdState, 'opt'))}
`;
}

/** One bridge for all pods: gateway on the host, pod-to-pod and hairpin traffic, host-local addresses. */
export function cniConflist(l: NodeLayout, podCidr: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'fse-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: CNI_BRIDGE,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: l.cniIpamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** A kubeconfig with a client certificate, verifying the API server with the cluster CA. */
export function certKubeconfig(o: { server: string; ca: string; cert: string; key: string; user: string }): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: fse-local
    cluster:
      server: ${o.server}
      certificate-authority: ${o.ca}
users:
  - name: ${o.user}
    user:
      client-certificate: ${o.cert}
      client-key: ${o.key}
contexts:
  - name: fse-local
    context:
      cluster: fse-local
      user: ${o.user}
current-context: fse-local
`;
}

export function kubeletYaml(
  l: NodeLayout,
  o: { ip: string; ca: string; tlsCert: string; tlsKey: string; dns: string },
): string {
  const p = ports();
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${o.ip}
port: ${p.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${p.kubeletHealthz}
tlsCertFile: ${o.tlsCert}
tlsPrivateKeyFile: ${o.tlsKey}
# the API server presents a client certificate of the cluster CA; other callers are checked by the API server
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true, cacheTTL: 30s}
  x509: {clientCAFile: ${o.ca}}
authorization:
  mode: Webhook
  webhook: {cacheAuthorizedTTL: 30s, cacheUnauthorizedTTL: 5s}
# cgroup v1 (hybrid) without systemd as PID 1
cgroupDriver: cgroupfs
failCgroupV1: false
# no CAP_SYS_RESOURCE: the kubelet may not lower its own OOM score
oomScoreAdj: 0
protectKernelDefaults: false
failSwapOn: false
containerRuntimeEndpoint: unix://${l.containerdSocket}
imageServiceEndpoint: unix://${l.containerdSocket}
podLogsDir: ${l.podLogs}
serializeImagePulls: false
clusterDNS: [${o.dns}]
clusterDomain: ${CLUSTER_DOMAIN}
# not the host's resolv.conf: pods with dnsPolicy Default must not learn resolvers outside the machine either
resolvConf: ${l.resolvConf}
# images are imported, never pulled: never garbage-collect them, evict only when the disk is really full
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
maxPods: 110
registerNode: true
# a pod's Secret and ConfigMap volumes follow their objects on its next sync (1 min by default, more on a busy node):
# the Prometheus Operator's config for a sale's new ServiceMonitor reaches the Prometheus pod sooner
syncFrequency: 15s
`;
}

export function kubeProxyYaml(l: NodeLayout, o: { name: string; ip: string; podCidr: string }): string {
  const p = ports();
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${l.proxyKubeconfig}
hostnameOverride: ${o.name}
mode: iptables
clusterCIDR: ${o.podCidr}
healthzBindAddress: 127.0.0.1:${p.kubeProxyHealthz}
metricsBindAddress: 127.0.0.1:${p.kubeProxyMetrics}
# NodePorts only on the node IP (not on eth0, not on 127.0.0.1: no route_localnet)
nodePortAddresses: [${o.ip}/32]
# 0: leave the kernel's conntrack settings alone (the sandbox may refuse to change them)
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  minSyncPeriod: 1s
  syncPeriod: 30s
`;
}

/**
 * CoreDNS on the node IP: the cluster's zones from the API server, nothing else. No forward plugin: a name outside
 * cluster.local is answered REFUSED here instead of being sent to a resolver outside the machine.
 */
export function corefile(o: { ip: string; kubeconfig: string }): string {
  const p = ports();
  return `${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
    bind ${o.ip}
    errors
    health 127.0.0.1:${p.corednsHealth}
    ready 127.0.0.1:${p.corednsReady}
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        kubeconfig ${o.kubeconfig} fse-local
        pods insecure
        ttl 5
    }
}
`;
}
