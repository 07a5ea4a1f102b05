import { describe, expect, it } from 'vitest';
import { kafkaSecurityOptions } from './kafka-security.ts';
import { pemProblem, tlsConnectOptions, tlsFromEnv, tlsSettings } from './tls.ts';

describe('TLS trust settings', () => {
  it('maps to node:tls options: the CA when given, verification unless skipped', () => {
    expect(tlsConnectOptions({ enabled: true, insecureSkipVerify: false })).toEqual({ rejectUnauthorized: true });
    expect(tlsConnectOptions({ enabled: true, ca: 'PEM', insecureSkipVerify: false })).toEqual({
      ca: ['PEM'],
      rejectUnauthorized: true,
    });
    expect(tlsConnectOptions({ enabled: true, insecureSkipVerify: true })).toEqual({ rejectUnauthorized: false });
    expect(tlsSettings(true)).toEqual({ enabled: true, insecureSkipVerify: false });
    expect(tlsSettings(undefined)).toEqual({ enabled: false, insecureSkipVerify: false });
  });

  it('kafkajs ssl: false when off, the options when on', () => {
    expect(kafkaSecurityOptions({ tls: { enabled: false, insecureSkipVerify: true } })).toEqual({ ssl: false });
    expect(kafkaSecurityOptions({ tls: { enabled: true, ca: 'PEM', insecureSkipVerify: false } })).toEqual({
      ssl: { ca: ['PEM'], rejectUnauthorized: true },
    });
  });

  it('refuses a CA file with TLS off, an unreadable file, and text without a valid certificate', () => {
    const issues: string[] = [];
    expect(tlsFromEnv('REDIS', { enabled: false, caFile: '/x.pem', insecureSkipVerify: true }, issues)).toEqual({
      enabled: false,
      insecureSkipVerify: false,
    });
    tlsFromEnv('KAFKA', { enabled: true, caFile: '/nonexistent/ca.pem', insecureSkipVerify: false }, issues);
    expect(issues).toEqual([
      'REDIS_TLS_CA_FILE: set while REDIS_TLS is false',
      'KAFKA_TLS_CA_FILE: cannot read the CA file "/nonexistent/ca.pem" (ENOENT)',
    ]);
    expect(pemProblem('hello', 'x')).toMatch(/x holds no PEM certificate/);
    expect(pemProblem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', 'x')).toMatch(
      /certificate 1 in x is not a valid X\.509/,
    );
  });
});
