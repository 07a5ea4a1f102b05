/**
 * The proxies whose `X-Forwarded-For` the gateway believes (spec.gateway.trustedProxies -> TRUSTED_PROXIES): one
 * rule for the spec and the gateway's start-up, in the terms fastify's proxy-addr understands (addresses, CIDR ranges
 * and its three named ranges). Hop counts are not offered: fastify 5 refuses to trust by hop count, since it cannot
 * tell a proxy from a client that sent enough hops.
 */
import { isIP } from 'node:net';

/** proxy-addr's named ranges: 127.0.0.0/8 and ::1; 169.254.0.0/16 and fe80::/10; 10/8, 172.16/12, 192.168/16, fc00::/7 */
export const TRUSTED_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'] as const;

/**
 * The default of a sale: loopback (a sidecar such as Envoy in the pod) and the private ranges (an in-cluster ingress
 * controller such as ingress-nginx connects from a pod address; cloud L7 load balancers in the VPC from private ones).
 * A public client address is never trusted, so a client's own X-Forwarded-For is ignored whatever it says.
 */
export const DEFAULT_TRUSTED_PROXIES: string[] = ['loopback', 'uniquelocal'];

/** Why `entry` is not an address, a CIDR range or a named range; undefined when it is. */
export function trustedProxyProblem(entry: string): string | undefined {
  if ((TRUSTED_PROXY_NAMES as readonly string[]).includes(entry)) return undefined;
  const [addr = '', prefix, extra] = entry.split('/');
  const family = isIP(addr);
  const bad = `"${entry}" is not an IP address, a CIDR range (10.0.0.0/8, fd00::/8) or one of ${TRUSTED_PROXY_NAMES.join(', ')}`;
  if (family === 0 || extra !== undefined || addr.includes('%')) return bad;
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  return bits >= 0 && bits <= (family === 4 ? 32 : 128) ? undefined : bad;
}

/** Split a comma-separated TRUSTED_PROXIES value (blanks dropped). */
export const splitTrustedProxies = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
