/**
 * The harness's secure variants really are secure: `redisTls` speaks TLS only, refuses the default user, a wrong
 * password and commands or keys outside the ACL; `kafkaSecure` refuses plaintext, TLS without SASL, and a wrong
 * password, and accepts SCRAM-SHA-512 and -256 over TLS.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createRedis, parseAddrList } from '@flashsale/common';
import kafkajs, { type KafkaConfig } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { requireService } from '../support/services.ts';

const { Kafka, logLevel } = kafkajs;

function plainRedisAnswer(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    let buf = '';
    const done = () => {
      s.destroy();
      resolve(buf);
    };
    const t = setTimeout(done, 2000);
    s.once('connect', () => s.write('PING\r\n'));
    s.on('data', (b: Buffer) => {
      buf += b.toString();
    });
    s.once('close', () => {
      clearTimeout(t);
      resolve(buf);
    });
    s.once('error', () => undefined);
  });
}

describe('redisTls', () => {
  const tlsRedis = (username?: string, password?: string) => {
    const e = requireService('redisTls');
    const r = createRedis(
      { mode: 'single', nodes: parseAddrList(e.addr), username, password },
      {
        tls: { ca: readFileSync(e.ca) },
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
      },
    );
    const errors: string[] = [];
    r.on('error', (err: Error) => errors.push(err.message));
    return Object.assign(r, { errors });
  };

  it('answers the ACL user over TLS and refuses plaintext, the default user and a wrong password', async () => {
    const e = requireService('redisTls');
    expect(await plainRedisAnswer(e.port)).not.toMatch(/PONG/);
    const ok = tlsRedis(e.username, e.password);
    await ok.connect();
    expect(await ok.ping()).toBe('PONG');
    ok.disconnect();
    const anon = tlsRedis();
    await anon.connect().catch(() => undefined);
    await expect(anon.ping()).rejects.toThrow(/NOAUTH|closed|writeable/i);
    anon.disconnect();
    const wrong = tlsRedis(e.username, 'not-the-password');
    await expect(wrong.connect()).rejects.toThrow();
    expect(wrong.errors.join('\n')).toMatch(/WRONGPASS/);
    wrong.disconnect();
  });

  it('the ACL user reaches only the product keys and no admin or dangerous command', async () => {
    const e = requireService('redisTls');
    const r = tlsRedis(e.username, e.password);
    await r.connect();
    try {
      expect(await r.set('fs:{acl-test}:x', '1')).toBe('OK');
      await expect(r.set('other:key', '1')).rejects.toThrow(/NOPERM/);
      await expect(r.flushall()).rejects.toThrow(/NOPERM/);
      await expect(r.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(r.config('GET', 'requirepass')).rejects.toThrow(/NOPERM/);
      await expect(r.call('ACL', 'LIST')).rejects.toThrow(/NOPERM/);
      await r.del('fs:{acl-test}:x');
    } finally {
      r.disconnect();
    }
  });
});

describe('kafkaSecure', () => {
  const probe = async (extra: Partial<KafkaConfig>) => {
    const e = requireService('kafkaSecure');
    const admin = new Kafka({
      clientId: 'fse-security-test',
      brokers: e.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      authenticationTimeout: 3000,
      requestTimeout: 5000,
      retry: { retries: 0 },
      ...extra,
    }).admin();
    try {
      await admin.connect();
      return (await admin.describeCluster()).brokers.length;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  it('accepts SCRAM-SHA-512 and -256 over TLS; refuses plaintext, TLS without SASL and a wrong password', async () => {
    const e = requireService('kafkaSecure');
    const ssl = { ca: [readFileSync(e.ca, 'utf8')] };
    expect(await probe({ ssl, sasl: { mechanism: 'scram-sha-512', username: e.username, password: e.password } })).toBe(
      1,
    );
    expect(await probe({ ssl, sasl: { mechanism: 'scram-sha-256', username: e.username, password: e.password } })).toBe(
      1,
    );
    await expect(probe({})).rejects.toThrow();
    await expect(probe({ ssl })).rejects.toThrow();
    await expect(
      probe({ ssl, sasl: { mechanism: 'scram-sha-512', username: e.username, password: 'wrong' } }),
    ).rejects.toThrow(/SASL|[Aa]uthentication/);
    // a certificate from another CA is not trusted
    await expect(
      probe({ ssl: true, sasl: { mechanism: 'scram-sha-512', username: e.username, password: e.password } }),
    ).rejects.toThrow();
  }, 60_000);
});
