/**
 * Who the buyer is (IDENTITY_SOURCE): `body`, the request's user_id as sent (no identity here); `header`, set by an
 * authenticating proxy and honoured only when the connection comes from a trusted proxy (TRUSTED_PROXIES, the same
 * trust as X-Forwarded-For); `jwt`, a verified bearer token (identity/jwt.ts). No Redis or Kafka: a header is read, a
 * signature checked against keys held in memory.
 */
import proxyAddr from '@fastify/proxy-addr';
import { userIdSchema } from '@flashsale/common';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ApiError } from '../errors.ts';
import { type JwtSettings, JwtVerifier } from './jwt.ts';

export type IdentityConfig =
  | { source: 'body' }
  | { source: 'header'; header: string }
  | { source: 'jwt'; jwt: JwtSettings };

const BEARER = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i;

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

export class BuyerIdentity {
  readonly config: IdentityConfig;
  private readonly trusted: (addr: string, i: number) => boolean;
  private readonly jwt: JwtVerifier | undefined;

  constructor(config: IdentityConfig, trustedProxies: string[], log: Logger) {
    this.config = config;
    this.trusted = proxyAddr.compile(trustedProxies);
    this.jwt = config.source === 'jwt' ? new JwtVerifier(config.jwt, log.child({ component: 'jwt' })) : undefined;
  }

  /** true when the buyer is authenticated (header or jwt): the body's user_id is then optional and checked */
  get required(): boolean {
    return this.config.source !== 'body';
  }

  start(): Promise<void> {
    return this.jwt?.start() ?? Promise.resolve();
  }

  stop(): void {
    this.jwt?.stop();
  }

  /** The authenticated buyer, undefined with IDENTITY_SOURCE=body; throws 401 (UNAUTHENTICATED, INVALID_TOKEN, ...). */
  async of(req: FastifyRequest): Promise<string | undefined> {
    const c = this.config;
    if (c.source === 'body') return undefined;
    if (c.source === 'header') return this.fromHeader(req, c.header);
    const m = BEARER.exec(single(req.headers.authorization) ?? '');
    if (!m?.[1]) {
      throw new ApiError('UNAUTHENTICATED', 'an Authorization: Bearer token is required', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    return (this.jwt as JwtVerifier).userOf(m[1]);
  }

  private fromHeader(req: FastifyRequest, name: string): string {
    const peer = req.socket.remoteAddress;
    if (!peer || !this.trusted(peer, 0)) {
      // whatever the header says: a client could have set it itself
      throw new ApiError('UNAUTHENTICATED', `${name} is honoured only from a trusted proxy (TRUSTED_PROXIES)`);
    }
    const v = single(req.headers[name.toLowerCase()]);
    if (v === undefined || v === '') {
      throw new ApiError('UNAUTHENTICATED', `the authenticating proxy sent no ${name} header`);
    }
    const user = userIdSchema.safeParse(v);
    if (!user.success) {
      throw new ApiError('UNAUTHENTICATED', `${name} is not a user id (1-128 printable characters without spaces)`);
    }
    return user.data;
  }
}
