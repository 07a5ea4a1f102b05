import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, EXIT } from './exit.ts';
import { cliSecurity, credentialEnv, redact } from './security.ts';

const dir = mkdtempSync(join(tmpdir(), 'fs-cli-sec-'));
const file = (name: string, text: string) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
};

const usage = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).exitCode).toBe(EXIT.usage);
    return (e as Error).message;
  }
  throw new Error('expected a usage error');
};

describe('credentials of the CLI from the services variables', () => {
  it('takes the gateway/processor variables and hands the same ones to the children', () => {
    const s = cliSecurity(
      {},
      {
        REDIS_USERNAME: 'app',
        REDIS_PASSWORD: 'r-secret-1',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        KAFKA_USERNAME: 'k',
        KAFKA_PASSWORD: 'k-secret-1',
      },
    );
    expect(s.redis).toMatchObject({ username: 'app', password: 'r-secret-1', tls: { enabled: false } });
    expect(s.kafka.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'k', password: 'k-secret-1' });
    expect(credentialEnv(s)).toEqual({
      REDIS_USERNAME: 'app',
      REDIS_PASSWORD: 'r-secret-1',
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_USERNAME: 'k',
      KAFKA_PASSWORD: 'k-secret-1',
    });
    expect(redact('AUTH app r-secret-1 / k-secret-1')).toBe('AUTH app *** / ***');
  });

  it('reads password files (one trailing newline dropped); the mechanism may come from the spec', () => {
    const s = cliSecurity(
      {
        redisPasswordFile: file('r', 'from-file-r\n'),
        kafkaPasswordFile: file('k', 'from-file-k'),
        kafkaSaslMechanism: 'scram-sha-512',
      },
      { KAFKA_USERNAME: 'k' },
    );
    expect(s.redis.password).toBe('from-file-r');
    expect(s.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'k', password: 'from-file-k' });
  });

  it('refuses bad input naming the variable, never the value', () => {
    expect(usage(() => cliSecurity({}, { KAFKA_SASL_MECHANISM: 'gssapi' }))).toMatch(
      /^KAFKA_SASL_MECHANISM: .*"scram-sha-512"/,
    );
    expect(usage(() => cliSecurity({}, { REDIS_USERNAME: 'app' }))).toBe(
      'REDIS_PASSWORD: required with REDIS_USERNAME (or --redis-password-file)',
    );
    const m = usage(() => cliSecurity({}, { KAFKA_SASL_MECHANISM: 'plain', KAFKA_PASSWORD: 'p-secret-2' }));
    expect(m).toBe('KAFKA_USERNAME: required with KAFKA_SASL_MECHANISM=plain');
    expect(usage(() => cliSecurity({}, { KAFKA_USERNAME: 'k', KAFKA_PASSWORD: 'p-secret-3' }))).toMatch(
      /^KAFKA_SASL_MECHANISM: must be set/,
    );
    const both = usage(() =>
      cliSecurity({ redisPasswordFile: file('r2', 'x') }, { REDIS_USERNAME: 'a', REDIS_PASSWORD: 'p-secret-4' }),
    );
    expect(both).toMatch(/REDIS_PASSWORD and --redis-password-file are both set/);
    expect(both).not.toContain('p-secret-4');
    expect(usage(() => cliSecurity({ kafkaPasswordFile: join(dir, 'missing') }, {}))).toMatch(
      /--kafka-password-file: cannot read ".*missing" \(ENOENT\)/,
    );
    expect(usage(() => cliSecurity({ redisPasswordFile: file('empty', '\n') }, {}))).toMatch(/is empty/);
  });

  it('TLS: REDIS_TLS/KAFKA_TLS, or on when a CA is given; a decided switch (the spec) wins', () => {
    expect(cliSecurity({}, { REDIS_TLS: 'true' }).redis.tls.enabled).toBe(true);
    expect(usage(() => cliSecurity({ kafkaTls: false, kafkaCa: '/nonexistent/ca.pem' }, {}))).toBe(
      'KAFKA_TLS_CA_FILE: set while KAFKA_TLS is false',
    );
    expect(usage(() => cliSecurity({ redisCa: '/nonexistent/ca.pem' }, {}))).toMatch(
      /REDIS_TLS_CA_FILE: cannot read the CA file/,
    );
  });
});
