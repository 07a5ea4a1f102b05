/**
 * Verified bearer tokens (IDENTITY_SOURCE=jwt), with jose: the signature against the issuer's keys, `iss`, `aud`,
 * `exp`/`nbf` (with a clock tolerance), an asymmetric algorithm. The keys are held in memory: a public key or a JSON
 * Web Key Set from a Secret (imported once), or the issuer's JWKS URL, fetched at start and refreshed in the
 * background, so a token never waits on the network unless it names a key id the gateway has not seen yet.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { JWT_ALGORITHMS, userIdSchema } from '@flashsale/common';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
  type RemoteJWKSet,
} from 'jose';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';

export interface JwtSettings {
  issuer: string;
  audience: string;
  /** the issuer's key set URL, or the key itself (JWT_PUBLIC_KEY): exactly one */
  jwksUrl?: string | undefined;
  publicKey?: VerificationKey | undefined;
  userClaim: string;
  algorithms: string[];
  clockToleranceMs: number;
  /** how often the remote key set is fetched again in the background */
  jwksRefreshMs: number;
}

export type VerificationKey = { kind: 'key'; key: KeyObject } | { kind: 'jwks'; jwks: JSONWebKeySet };

/** JWT_PUBLIC_KEY: a PEM public key (or certificate) or a JSON Web Key Set; throws a readable message otherwise. */
export function parseVerificationKey(text: string): VerificationKey {
  const t = text.trim();
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new Error('is neither a PEM public key nor a JSON Web Key Set (not valid JSON)');
    }
    const keys = (v as { keys?: unknown }).keys;
    if (!Array.isArray(keys) || keys.length === 0)
      throw new Error('is JSON but not a JSON Web Key Set ({"keys": [...]})');
    createLocalJWKSet(v as JSONWebKeySet); // throws on a malformed set
    return { kind: 'jwks', jwks: v as JSONWebKeySet };
  }
  let key: KeyObject;
  try {
    key = createPublicKey(t);
  } catch (e) {
    throw new Error(`is not a PEM public key, certificate or JSON Web Key Set (${(e as Error).message})`);
  }
  if (key.asymmetricKeyType === undefined) throw new Error('is not an asymmetric public key');
  return { kind: 'key', key };
}

/** The 401s of a token, each with its code and the reason in the message (and RFC 6750's WWW-Authenticate). */
function refused(code: 'INVALID_TOKEN' | 'TOKEN_EXPIRED', reason: string): ApiError {
  const description = reason.replaceAll('"', "'");
  return new ApiError(code, `the bearer token was refused: ${reason}`, {
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"` },
  });
}

export class JwtVerifier {
  private readonly s: JwtSettings;
  private readonly log: Logger;
  private readonly keys: KeyObject | JWTVerifyGetKey;
  private readonly remote: RemoteJWKSet | undefined;
  private refresh: NodeJS.Timeout | undefined;

  constructor(s: JwtSettings, log: Logger) {
    this.s = s;
    this.log = log;
    if (s.jwksUrl) {
      // never stale by age (the background refresh renews it); an unknown key id fetches at most every 30 s
      this.remote = createRemoteJWKSet(new URL(s.jwksUrl), { cacheMaxAge: Number.POSITIVE_INFINITY });
      this.keys = this.remote;
    } else if (s.publicKey?.kind === 'key') {
      this.keys = s.publicKey.key;
    } else if (s.publicKey?.kind === 'jwks') {
      this.keys = createLocalJWKSet(s.publicKey.jwks);
    } else {
      throw new Error('JwtVerifier: neither a JWKS URL nor a key');
    }
  }

  /** Fetch the remote key set now (a failure is logged: tokens are refused 503 until the issuer answers). */
  async start(): Promise<void> {
    const remote = this.remote;
    if (!remote) return;
    const load = () =>
      remote.reload().then(
        () => true,
        (e: Error) => {
          this.log.warn(
            { event: 'jwks_fetch_failed', url: this.s.jwksUrl, err: e.message },
            'The JSON Web Key Set could not be fetched; the last keys stay in use',
          );
          return false;
        },
      );
    if (await load()) this.log.info({ event: 'jwks_loaded', url: this.s.jwksUrl }, 'JSON Web Key Set loaded');
    this.refresh = setInterval(load, this.s.jwksRefreshMs).unref();
  }

  stop(): void {
    clearInterval(this.refresh);
  }

  /** The buyer named by a verified token; throws 401 INVALID_TOKEN / TOKEN_EXPIRED, or 503 when the keys are away. */
  async userOf(token: string): Promise<string> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        issuer: this.s.issuer,
        audience: this.s.audience,
        algorithms: this.s.algorithms,
        clockTolerance: Math.round(this.s.clockToleranceMs / 1000),
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      throw this.refusal(e);
    }
    const user = payload[this.s.userClaim];
    const ok = userIdSchema.safeParse(user);
    if (!ok.success) {
      throw refused('INVALID_TOKEN', `claim "${this.s.userClaim}" is not a user id (1-128 printable characters)`);
    }
    return ok.data;
  }

  private refusal(e: unknown): ApiError {
    if (e instanceof errors.JWTExpired) return refused('TOKEN_EXPIRED', 'the token has expired');
    if (e instanceof errors.JWTClaimValidationFailed) {
      return refused(
        'INVALID_TOKEN',
        `claim "${e.claim}" ${e.reason === 'missing' ? 'is missing' : 'is not accepted'}`,
      );
    }
    if (e instanceof errors.JWSSignatureVerificationFailed)
      return refused('INVALID_TOKEN', 'the signature is not valid');
    if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
      return refused('INVALID_TOKEN', "no key of the issuer's key set matches the token");
    }
    if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) {
      return refused('INVALID_TOKEN', 'the algorithm is not accepted');
    }
    if (e instanceof errors.JWSInvalid || e instanceof errors.JWTInvalid) {
      return refused('INVALID_TOKEN', 'the token is malformed');
    }
    if (this.remote && this.keysUnavailable(e)) {
      // the key set could not be fetched (timeout, refused, not 200, not a key set): not the client's fault
      this.log.warn({ event: 'jwks_unavailable', err: (e as Error).message }, 'Token keys unavailable');
      return new ApiError('DEPENDENCY_UNAVAILABLE', "the identity provider's keys cannot be fetched; retry later", {
        headers: { 'Retry-After': '1' },
      });
    }
    // e.g. a token signed for another key type than the configured key
    return refused('INVALID_TOKEN', "the token cannot be verified with the issuer's key");
  }

  private keysUnavailable(e: unknown): boolean {
    if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return true;
    const code = (e as { code?: string }).code;
    // JOSEError's generic code: not 200 or not JSON; a TypeError from fetch: refused, DNS, reset
    return code === 'ERR_JOSE_GENERIC' || ((e as Error).name === 'TypeError' && /fetch/i.test((e as Error).message));
  }
}

/** The default allow-list: every asymmetric JWS algorithm (HMAC and 'none' never). */
export const DEFAULT_JWT_ALGORITHMS: string[] = [...JWT_ALGORITHMS];
