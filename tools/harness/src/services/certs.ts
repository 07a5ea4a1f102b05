/**
 * A throwaway CA and a server certificate for 127.0.0.1/localhost, made with openssl into a service's run dir, and
 * throwaway credentials. For the TLS/ACL Redis and the SASL/TLS Kafka of the harness only: nothing here is a secret
 * worth keeping (regenerated on every start).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../proc.ts';

export interface TlsFiles {
  /** PEM of the CA that signed the server certificate: what clients trust */
  ca: string;
  cert: string;
  /** unencrypted PKCS#8 private key of the server */
  key: string;
  /** key + certificate chain in one PEM (Kafka's PEM keystore) */
  bundle: string;
}

export async function makeCerts(dir: string, cn: string): Promise<TlsFiles> {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => join(dir, n);
  const ossl = (args: string[]) => run('openssl', args, { cwd: dir });
  await ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('ca.key')]);
  await ossl([
    'req',
    '-x509',
    '-new',
    '-key',
    f('ca.key'),
    '-subj',
    `/CN=fse-test-ca-${cn}`,
    '-days',
    '30',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    f('ca.pem'),
  ]);
  await ossl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('server.key')]);
  writeFileSync(
    f('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\n',
  );
  await ossl(['req', '-new', '-key', f('server.key'), '-subj', `/CN=${cn}`, '-out', f('server.csr')]);
  await ossl([
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '30',
    '-extfile',
    f('server.ext'),
    '-out',
    f('server.pem'),
  ]);
  // PKCS#8, unencrypted (Kafka's PEM keystore and Redis both read it)
  await ossl(['pkcs8', '-topk8', '-nocrypt', '-in', f('server.key'), '-out', f('server.p8.key')]);
  writeFileSync(
    f('server-bundle.pem'),
    readFileSync(f('server.p8.key'), 'utf8') +
      readFileSync(f('server.pem'), 'utf8') +
      readFileSync(f('ca.pem'), 'utf8'),
  );
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.p8.key'), bundle: f('server-bundle.pem') };
}

/** A random password that survives shell, JAAS and URL quoting (letters and digits). */
export function throwawayPassword(prefix = 'pw'): string {
  return `${prefix}${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}
