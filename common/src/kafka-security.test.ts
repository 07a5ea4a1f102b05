import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { kafkaSaslEnvShape, kafkaSaslFromEnv, kafkaSecurityOptions } from './kafka-security.ts';

const schema = z.object(kafkaSaslEnvShape);

describe('Kafka SASL from the environment', () => {
  it('is off without a mechanism, and needs one when credentials are given', () => {
    const issues: string[] = [];
    expect(kafkaSaslFromEnv(schema.parse({}), issues)).toBeUndefined();
    expect(issues).toEqual([]);
    kafkaSaslFromEnv(schema.parse({ KAFKA_USERNAME: 'u' }), issues);
    expect(issues).toEqual(['KAFKA_SASL_MECHANISM: must be set when KAFKA_USERNAME or KAFKA_PASSWORD is']);
  });

  it('takes the operator names (mechanism case-insensitive) and names missing variables, never values', () => {
    const issues: string[] = [];
    const s = kafkaSaslFromEnv(
      schema.parse({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: 'app', KAFKA_PASSWORD: 's3cret' }),
      issues,
    );
    expect(s).toEqual({ mechanism: 'scram-sha-512', username: 'app', password: 's3cret' });
    expect(issues).toEqual([]);
    kafkaSaslFromEnv(schema.parse({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_PASSWORD: 'p' }), issues);
    expect(issues).toEqual(['KAFKA_USERNAME: required with KAFKA_SASL_MECHANISM=plain']);
    expect(schema.safeParse({ KAFKA_SASL_MECHANISM: 'gssapi' }).success).toBe(false);
  });

  it('maps to kafkajs options', () => {
    expect(kafkaSecurityOptions({ tls: false })).toEqual({ ssl: false });
    expect(kafkaSecurityOptions({ tls: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } })).toEqual({
      ssl: true,
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
  });
});
