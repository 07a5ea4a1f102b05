/**
 * Kafka transport security shared by the gateway and the processor: TLS and SASL (PLAIN, SCRAM-SHA-256/512) from the
 * environment variables the operator sets (KAFKA_TLS, KAFKA_SASL_MECHANISM, and KAFKA_USERNAME / KAFKA_PASSWORD from
 * Secret references), turned into kafkajs client options. A private CA comes from KAFKA_TLS_CA_FILE and skipped
 * verification from KAFKA_TLS_INSECURE_SKIP_VERIFY (common/src/tls.ts).
 */
import type { SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { type TlsOption, tlsConnectOptions } from './tls.ts';

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSasl {
  mechanism: KafkaSaslMechanism;
  username: string;
  password: string;
}

/** Env fields to spread into a service's env schema. */
export const kafkaSaslEnvShape = {
  KAFKA_SASL_MECHANISM: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim().toLowerCase()))
    .pipe(z.enum(KAFKA_SASL_MECHANISMS).optional()),
  KAFKA_USERNAME: z.string().optional(),
  KAFKA_PASSWORD: z.string().optional(),
};

/**
 * The SASL settings, or undefined when no mechanism is set; `issues` gets a message per missing variable
 * (never a value).
 */
export function kafkaSaslFromEnv(
  e: {
    KAFKA_SASL_MECHANISM?: KafkaSaslMechanism | undefined;
    KAFKA_USERNAME?: string | undefined;
    KAFKA_PASSWORD?: string | undefined;
  },
  issues: string[],
): KafkaSasl | undefined {
  if (!e.KAFKA_SASL_MECHANISM) {
    if (e.KAFKA_USERNAME || e.KAFKA_PASSWORD) {
      issues.push('KAFKA_SASL_MECHANISM: must be set when KAFKA_USERNAME or KAFKA_PASSWORD is');
    }
    return undefined;
  }
  if (!e.KAFKA_USERNAME) issues.push(`KAFKA_USERNAME: required with KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM}`);
  if (e.KAFKA_PASSWORD === undefined || e.KAFKA_PASSWORD === '') {
    issues.push(`KAFKA_PASSWORD: required with KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM}`);
  }
  return { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_USERNAME ?? '', password: e.KAFKA_PASSWORD ?? '' };
}

/** kafkajs client options for TLS (a flag, or settings with a CA and/or skipped verification) and SASL. */
export function kafkaSecurityOptions(s: { tls: TlsOption; sasl?: KafkaSasl | undefined }): {
  ssl: boolean | { ca?: string[]; rejectUnauthorized: boolean };
  sasl?: SASLOptions;
} {
  const ssl = typeof s.tls === 'object' ? (s.tls.enabled ? tlsConnectOptions(s.tls) : false) : s.tls === true;
  return {
    ssl,
    ...(s.sasl ? { sasl: { ...s.sasl } as SASLOptions } : {}),
  };
}
