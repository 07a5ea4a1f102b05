/**
 * Certificates signed by the control plane's throwaway CA (`pki/ca.crt`, the one the controller-manager hands to pods
 * as kube-root-ca.crt): the API server's serving certificate (so in-cluster clients verify it), the API server's client
 * certificate towards kubelets, and the node's kubelet and kube-proxy credentials. Test material, regenerated per start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBERNETES_SERVICE_IP, nodeIp } from '../node-net.ts';
import { run } from '../proc.ts';

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * An EC P-256 key and a certificate for `subject` (e.g. `/O=system:nodes/CN=system:node:x`) signed by the CA in `pki`
 * (ca.crt, ca.key), written as `<outDir or pki>/<name>.crt|.key`.
 */
export async function signCert(
  pki: string,
  name: string,
  o: {
    subject: string;
    usage: 'serverAuth' | 'clientAuth';
    sans?: string[];
    logPath?: string;
    outDir?: string;
    /** another CA than pki/ca.crt + ca.key */
    ca?: CertFiles;
  },
): Promise<CertFiles> {
  const dir = o.outDir ?? pki;
  const f = (ext: string) => join(dir, `${name}.${ext}`);
  const ossl = (args: string[]) => run('openssl', args, { cwd: dir, ...(o.logPath ? { logPath: o.logPath } : {}) });
  await ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('key')]);
  await ossl(['req', '-new', '-key', f('key'), '-subj', o.subject, '-out', f('csr')]);
  const ext = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${o.usage}`,
    ...(o.sans?.length ? [`subjectAltName=${o.sans.join(',')}`] : []),
  ];
  writeFileSync(f('ext'), `${ext.join('\n')}\n`);
  await ossl([
    'x509',
    '-req',
    '-in',
    f('csr'),
    '-CA',
    o.ca?.cert ?? join(pki, 'ca.crt'),
    '-CAkey',
    o.ca?.key ?? join(pki, 'ca.key'),
    // a random serial instead of -CAcreateserial: no shared serial file for concurrent signers
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    '3650',
    '-extfile',
    f('ext'),
    '-out',
    f('crt'),
  ]);
  return { cert: f('crt'), key: f('key') };
}

/** Where the API server's own certificates live in `pki`. */
export function apiserverCertPaths(pki: string) {
  return {
    serving: { cert: join(pki, 'apiserver-serving.crt'), key: join(pki, 'apiserver-serving.key') },
    kubeletClient: { cert: join(pki, 'apiserver-kubelet-client.crt'), key: join(pki, 'apiserver-kubelet-client.key') },
    /** the aggregation layer: a CA of its own, and the client certificate the API server proxies with */
    frontProxyCa: { cert: join(pki, 'front-proxy-ca.crt'), key: join(pki, 'front-proxy-ca.key') },
    frontProxyClient: { cert: join(pki, 'front-proxy-client.crt'), key: join(pki, 'front-proxy-client.key') },
  };
}

/** The CN the API server's front-proxy client certificate carries (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT_CN = 'front-proxy-client';

/**
 * The API server's serving certificate (SANs: loopback, the node IP, the `kubernetes` Service's IP and names) and its
 * client certificate for kubelets (system:masters), unless `pki` already has them.
 */
export async function ensureApiserverCerts(pki: string, logPath?: string): Promise<void> {
  const p = apiserverCertPaths(pki);
  const log = logPath ? { logPath } : {};
  if (!existsSync(p.serving.cert)) {
    const names = [
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ];
    await signCert(pki, 'apiserver-serving', {
      subject: '/CN=kube-apiserver',
      usage: 'serverAuth',
      sans: [
        'IP:127.0.0.1',
        `IP:${nodeIp()}`,
        `IP:${KUBERNETES_SERVICE_IP}`,
        'DNS:localhost',
        ...names.map((n) => `DNS:${n}`),
      ],
      ...log,
    });
  }
  if (!existsSync(p.kubeletClient.cert)) {
    await signCert(pki, 'apiserver-kubelet-client', {
      subject: '/O=system:masters/CN=kube-apiserver-kubelet-client',
      usage: 'clientAuth',
      ...log,
    });
  }
  // the aggregation layer (metrics-server, KEDA): extension API servers trust requests that carry this client
  // certificate, signed by a CA of its own (not the client CA: no other client certificate may assert identities)
  if (!existsSync(p.frontProxyCa.cert)) {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        p.frontProxyCa.key,
        '-out',
        p.frontProxyCa.cert,
        '-days',
        '3650',
        '-subj',
        '/CN=fse-front-proxy-ca',
      ],
      { cwd: pki, ...log },
    );
  }
  if (!existsSync(p.frontProxyClient.cert)) {
    await signCert(pki, 'front-proxy-client', {
      subject: `/CN=${FRONT_PROXY_CLIENT_CN}`,
      usage: 'clientAuth',
      ca: p.frontProxyCa,
      ...log,
    });
  }
}
