/**
 * The addresses of the harness's real node, in one place: the kube service needs them for its serving certificate and
 * advertise address, the node service for the kubelet, kube-proxy, CoreDNS and the CNI bridge.
 */
import { isIPv4 } from 'node:net';

/** The real node's name (kubernetes.io/hostname label): target it with a nodeSelector on that label. */
export const NODE_NAME = 'fse-node';
/** Pods get their addresses here, on the CNI bridge `cni0` (gateway .1). */
export const POD_CIDR = '10.244.0.0/24';
/** The API server's --service-cluster-ip-range; a `local` route on the host while the node runs (nothing leaves). */
export const SERVICE_CIDR = '10.0.0.0/24';
/** The `kubernetes` Service's ClusterIP (first address of SERVICE_CIDR). */
export const KUBERNETES_SERVICE_IP = '10.0.0.1';
/** The default node IP: a private /32 the node service puts on `lo` (no dummy links here); FSE_NODE_IP overrides. */
export const DEFAULT_NODE_IP = '10.250.0.1';

/**
 * The node IP: the kubelet's --node-ip, the API server's advertise address, CoreDNS's listen address. Not loopback
 * (the kubelet refuses 127/8 and pods could not reach it). An address the machine already has (e.g. eth0's) is used as
 * it is; any other is added to `lo` as a /32 while the node runs.
 */
export function nodeIp(): string {
  const raw = process.env.FSE_NODE_IP;
  const ip = raw === undefined || raw === '' ? DEFAULT_NODE_IP : raw;
  if (!isIPv4(ip) || ip.startsWith('127.')) {
    throw new Error(`FSE_NODE_IP must be a non-loopback IPv4 address of this machine, got '${ip}'`);
  }
  return ip;
}
