/**
 * TLS trust for the Redis and Kafka clients of the gateway, the processor, the operator and the CLI: which CA bundle
 * to trust (a PEM file the operator mounts read-only from the Secret `spec.<redis|kafka>.tls.caSecretRef` names) and
 * whether certificate verification is skipped (`insecureSkipVerify`, never by default).
 *
 * The environment contract (set by the operator, parsed once by each service's config module):
 *   REDIS_TLS_CA_FILE, REDIS_TLS_INSECURE_SKIP_VERIFY, KAFKA_TLS_CA_FILE, KAFKA_TLS_INSECURE_SKIP_VERIFY.
 * The CA file is read at start-up; a missing or unreadable file, or one without a PEM certificate, stops start-up
 * with a message naming the variable. The CA content never goes into an environment variable, a log or an error.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import { z } from 'zod';
import type { Logger } from './logger.ts';

export interface TlsSettings {
  enabled: boolean;
  /** PEM bundle to trust instead of the default roots (read from `caFile` at start-up) */
  ca?: string | undefined;
  /** where `ca` came from: for messages only */
  caFile?: string | undefined;
  /** encrypt but do not verify the server's certificate (logged as a warning at start-up) */
  insecureSkipVerify: boolean;
}

/** A plain flag (TLS with the default roots) or full settings. */
export type TlsOption = boolean | TlsSettings | undefined;

export const TLS_TARGETS = ['REDIS', 'KAFKA'] as const;
export type TlsTarget = (typeof TLS_TARGETS)[number];

/** Where the operator mounts each CA bundle in the gateway and processor pods (a Secret volume, read-only). */
export const TLS_CA_MOUNT = {
  REDIS: { dir: '/etc/flashsale/tls/redis', file: 'ca.crt', volume: 'redis-tls-ca' },
  KAFKA: { dir: '/etc/flashsale/tls/kafka', file: 'ca.crt', volume: 'kafka-tls-ca' },
} as const satisfies Record<TlsTarget, { dir: string; file: string; volume: string }>;

export const tlsCaPath = (t: TlsTarget) => `${TLS_CA_MOUNT[t].dir}/${TLS_CA_MOUNT[t].file}`;

export function tlsSettings(t: TlsOption): TlsSettings {
  return typeof t === 'object' ? t : { enabled: t === true, insecureSkipVerify: false };
}

/** node:tls options (ioredis `tls`, kafkajs `ssl`): the CA when given, verification unless skipped. */
export function tlsConnectOptions(t: TlsSettings): { ca?: string[]; rejectUnauthorized: boolean } {
  return { ...(t.ca ? { ca: [t.ca] } : {}), rejectUnauthorized: !t.insecureSkipVerify };
}

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .default('false')
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalPath = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Env fields to spread into a service's env schema (beside its REDIS_TLS and KAFKA_TLS). */
export const tlsEnvShape = {
  REDIS_TLS_CA_FILE: optionalPath,
  REDIS_TLS_INSECURE_SKIP_VERIFY: flag,
  KAFKA_TLS_CA_FILE: optionalPath,
  KAFKA_TLS_INSECURE_SKIP_VERIFY: flag,
};

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Read and check a PEM CA bundle; problems go to `issues` naming `variable` (never the content). */
export function readCaBundle(file: string, variable: string, issues: string[]): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    issues.push(`${variable}: cannot read the CA file "${file}" (${code})`);
    return undefined;
  }
  const problem = pemProblem(text, `"${file}"`);
  if (problem === undefined) return text;
  issues.push(`${variable}: ${problem}`);
  return undefined;
}

/** Why `text` is not a usable PEM CA bundle (`where` names it in the message), or undefined when it is. */
export function pemProblem(text: string, where: string): string | undefined {
  const certs = text.match(PEM_CERT) ?? [];
  if (certs.length === 0) return `${where} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  for (const [i, pem] of certs.entries()) {
    try {
      new X509Certificate(pem);
    } catch {
      return `certificate ${i + 1} in ${where} is not a valid X.509 certificate`;
    }
  }
  return undefined;
}

/**
 * The TLS settings of one target from the parsed env; `issues` gets a message per bad variable. A CA file or
 * skip-verify with TLS off is refused: it would silently not apply.
 */
export function tlsFromEnv(
  target: TlsTarget,
  e: { enabled: boolean; caFile?: string | undefined; insecureSkipVerify: boolean },
  issues: string[],
): TlsSettings {
  if (!e.enabled) {
    if (e.caFile) issues.push(`${target}_TLS_CA_FILE: set while ${target}_TLS is false`);
    return { enabled: false, insecureSkipVerify: false };
  }
  const ca = e.caFile ? readCaBundle(e.caFile, `${target}_TLS_CA_FILE`, issues) : undefined;
  return { enabled: true, ca, caFile: e.caFile, insecureSkipVerify: e.insecureSkipVerify };
}

/** The settings of both targets from an env parsed with `tlsEnvShape` (plus REDIS_TLS and KAFKA_TLS). */
export function tlsPairFromEnv(
  e: {
    REDIS_TLS: boolean;
    KAFKA_TLS: boolean;
    REDIS_TLS_CA_FILE?: string | undefined;
    REDIS_TLS_INSECURE_SKIP_VERIFY: boolean;
    KAFKA_TLS_CA_FILE?: string | undefined;
    KAFKA_TLS_INSECURE_SKIP_VERIFY: boolean;
  },
  issues: string[],
): { redis: TlsSettings; kafka: TlsSettings } {
  return {
    redis: tlsFromEnv(
      'REDIS',
      { enabled: e.REDIS_TLS, caFile: e.REDIS_TLS_CA_FILE, insecureSkipVerify: e.REDIS_TLS_INSECURE_SKIP_VERIFY },
      issues,
    ),
    kafka: tlsFromEnv(
      'KAFKA',
      { enabled: e.KAFKA_TLS, caFile: e.KAFKA_TLS_CA_FILE, insecureSkipVerify: e.KAFKA_TLS_INSECURE_SKIP_VERIFY },
      issues,
    ),
  };
}

/** The server's certificate was not accepted: retrying cannot help, start-up stops. */
export class TlsVerificationError extends Error {
  readonly target: TlsTarget;
  readonly code: string | undefined;
  constructor(target: TlsTarget, message: string, code: string | undefined) {
    super(message);
    this.name = 'TlsVerificationError';
    this.target = target;
    this.code = code;
  }
}

/** OpenSSL / node:tls codes of a certificate that was not accepted (as opposed to a network failure). */
const VERIFY_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export const isTlsVerificationFailure = (e: unknown): boolean =>
  typeof e === 'object' && e !== null && VERIFY_CODES.has(String((e as { code?: unknown }).code));

/**
 * One TLS handshake with `host:port` using `t`'s trust. Resolves 'ok', or 'unreachable' (refused, timed out: the
 * service may come later and the clients retry), or rejects with TlsVerificationError (bad or unknown certificate).
 */
export function probeTls(
  target: TlsTarget,
  endpoint: { host: string; port: number },
  t: TlsSettings,
  timeoutMs = 5000,
): Promise<'ok' | 'unreachable'> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      ...(isIP(endpoint.host) ? {} : { servername: endpoint.host }),
      ...tlsConnectOptions(t),
    });
    const timer = setTimeout(() => finish('unreachable'), timeoutMs);
    function finish(r: 'ok' | 'unreachable' | Error) {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      if (r instanceof Error) reject(r);
      else resolve(r);
    }
    socket.once('secureConnect', () => finish('ok'));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (!isTlsVerificationFailure(e)) return finish('unreachable');
      const where = `${endpoint.host}:${endpoint.port}`;
      const hint = t.ca
        ? `the CA in ${target}_TLS_CA_FILE (${t.caFile}) did not sign the server's certificate`
        : `set ${target}_TLS_CA_FILE to the CA bundle that signed it (spec.${target.toLowerCase()}.tls.caSecretRef)`;
      finish(
        new TlsVerificationError(
          target,
          `${target}_TLS: TLS certificate verification failed for ${where}: ${e.message} (${e.code}); ${hint}`,
          e.code,
        ),
      );
    });
  });
}

const hostPort = (s: string) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
};

/**
 * At start-up, before the clients connect: warn when verification is skipped, and stop with a TlsVerificationError
 * when a server's certificate is not accepted (the clients would otherwise retry the handshake forever). Unreachable
 * servers are left to the clients' own retries.
 */
export async function checkTlsAtStartup(
  log: Logger,
  targets: { target: TlsTarget; endpoints: (string | { host: string; port: number })[]; tls: TlsSettings }[],
  timeoutMs = 5000,
): Promise<void> {
  for (const { target, endpoints, tls } of targets) {
    if (!tls.enabled) continue;
    if (tls.insecureSkipVerify) {
      log.warn(
        { event: 'tls_verification_disabled', target: target.toLowerCase() },
        `${target}_TLS_INSECURE_SKIP_VERIFY=true: the ${target.toLowerCase()} connection is encrypted but the ` +
          "server's certificate is NOT verified (anyone on the path can impersonate it); use only for testing",
      );
    }
    await Promise.all(
      endpoints.map((ep) => probeTls(target, typeof ep === 'string' ? hostPort(ep) : ep, tls, timeoutMs)),
    );
  }
}
