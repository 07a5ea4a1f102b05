/**
 * Credentials and TLS trust of the CLI's own Redis and Kafka connections (`up`, `status`, `load`'s audit, `dlq`),
 * taken the way the gateway and processor take them: from the same environment variables (REDIS_USERNAME,
 * REDIS_PASSWORD, REDIS_TLS, KAFKA_SASL_MECHANISM, KAFKA_USERNAME, KAFKA_PASSWORD, KAFKA_TLS, *_TLS_CA_FILE,
 * *_TLS_INSECURE_SKIP_VERIFY) parsed with the shared shapes of common/src (kafka-security.ts, tls.ts, env-fields.ts).
 * Secret values never come from a flag (flags show in `ps`); `--redis-password-file` / `--kafka-password-file` name a
 * file holding one. Every secret read is registered with `redact`, which main.ts applies to any error it prints.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  envBool,
  isTlsVerificationFailure,
  type KafkaSasl,
  type KafkaSaslMechanism,
  kafkaSaslEnvShape,
  kafkaSaslFromEnv,
  kafkaSecurityOptions,
  type TlsSettings,
  tlsEnvShape,
  tlsFromEnv,
} from '@flashsale/common';
import { z } from 'zod';
import { cliEnv, type Env } from './env.ts';
import { CliError, EXIT } from './exit.ts';

const envSchema = z.object({
  REDIS_USERNAME: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_TLS: envBool(false),
  KAFKA_TLS: envBool(false),
  ...tlsEnvShape,
  ...kafkaSaslEnvShape,
});

/** What the command line adds; TLS switches known from elsewhere (the spec, a running `flashsale up`). */
export interface SecurityFlags {
  redisPasswordFile?: string | undefined;
  kafkaPasswordFile?: string | undefined;
  /** CA bundle files (--redis-ca / --kafka-ca; commander fills them from *_TLS_CA_FILE) */
  redisCa?: string | undefined;
  kafkaCa?: string | undefined;
  /** set: the switch is decided (spec.<redis|kafka>.tls); unset: REDIS_TLS/KAFKA_TLS, or on when a CA is given */
  redisTls?: boolean | undefined;
  kafkaTls?: boolean | undefined;
  redisInsecureSkipVerify?: boolean | undefined;
  kafkaInsecureSkipVerify?: boolean | undefined;
  /** spec.kafka.sasl.mechanism: used when KAFKA_SASL_MECHANISM is not set */
  kafkaSaslMechanism?: KafkaSaslMechanism | undefined;
}

export interface CliSecurity {
  redis: { username?: string | undefined; password?: string | undefined; tls: TlsSettings };
  kafka: { sasl?: KafkaSasl | undefined; tls: TlsSettings };
}

const secrets = new Set<string>();

/** `text` with every secret value the CLI read replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}

const remember = (v: string | undefined) => {
  if (v) secrets.add(v);
  return v;
};

function readSecretFile(file: string, flag: string, issues: string[]): string | undefined {
  try {
    // one trailing newline (echo > file, Kubernetes Secret files written by hand) is not part of the secret
    const v = readFileSync(resolve(file), 'utf8').replace(/\r?\n$/, '');
    if (v === '') issues.push(`${flag}: "${file}" is empty`);
    return v === '' ? undefined : v;
  } catch (e) {
    issues.push(`${flag}: cannot read "${file}" (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function password(env: string | undefined, file: string | undefined, variable: string, flag: string, issues: string[]) {
  if (file === undefined) return env === '' ? undefined : env;
  if (env) issues.push(`${variable} and ${flag} are both set: give the password one way`);
  return readSecretFile(file, flag, issues);
}

/**
 * Parse the environment once and combine it with the flags; a bad or missing value is a usage error naming the
 * variable (never its value).
 */
export function cliSecurity(flags: SecurityFlags, env: Env = cliEnv()): CliSecurity {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new CliError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), EXIT.usage);
  }
  const e = parsed.data;
  const issues: string[] = [];
  const redisPassword = remember(
    password(e.REDIS_PASSWORD, flags.redisPasswordFile, 'REDIS_PASSWORD', '--redis-password-file', issues),
  );
  if (e.REDIS_USERNAME && !redisPassword) {
    issues.push('REDIS_PASSWORD: required with REDIS_USERNAME (or --redis-password-file)');
  }
  const kafkaPassword = remember(
    password(e.KAFKA_PASSWORD, flags.kafkaPasswordFile, 'KAFKA_PASSWORD', '--kafka-password-file', issues),
  );
  const sasl = kafkaSaslFromEnv(
    {
      KAFKA_SASL_MECHANISM: e.KAFKA_SASL_MECHANISM ?? flags.kafkaSaslMechanism,
      KAFKA_USERNAME: e.KAFKA_USERNAME,
      KAFKA_PASSWORD: kafkaPassword,
    },
    issues,
  );
  const redisCa = flags.redisCa ?? e.REDIS_TLS_CA_FILE;
  const kafkaCa = flags.kafkaCa ?? e.KAFKA_TLS_CA_FILE;
  const redisTls = tlsFromEnv(
    'REDIS',
    {
      enabled: flags.redisTls ?? (e.REDIS_TLS || redisCa !== undefined),
      caFile: redisCa ? resolve(redisCa) : undefined,
      insecureSkipVerify: flags.redisInsecureSkipVerify ?? e.REDIS_TLS_INSECURE_SKIP_VERIFY,
    },
    issues,
  );
  const kafkaTls = tlsFromEnv(
    'KAFKA',
    {
      enabled: flags.kafkaTls ?? (e.KAFKA_TLS || kafkaCa !== undefined),
      caFile: kafkaCa ? resolve(kafkaCa) : undefined,
      insecureSkipVerify: flags.kafkaInsecureSkipVerify ?? e.KAFKA_TLS_INSECURE_SKIP_VERIFY,
    },
    issues,
  );
  if (issues.length > 0) throw new CliError(issues.join('; '), EXIT.usage);
  return {
    redis: { username: e.REDIS_USERNAME || undefined, password: redisPassword, tls: redisTls },
    kafka: { sasl, tls: kafkaTls },
  };
}

/** The variables that give a child process (gateway, processor) the same credentials; values only in its env. */
export function credentialEnv(s: CliSecurity): Record<string, string> {
  return {
    ...(s.redis.username ? { REDIS_USERNAME: s.redis.username } : {}),
    ...(s.redis.password ? { REDIS_PASSWORD: s.redis.password } : {}),
    ...(s.kafka.sasl
      ? {
          KAFKA_SASL_MECHANISM: s.kafka.sasl.mechanism,
          KAFKA_USERNAME: s.kafka.sasl.username,
          KAFKA_PASSWORD: s.kafka.sasl.password,
        }
      : {}),
  };
}

/** Fields of `createRedis`'s config. */
export const redisAuth = (s: CliSecurity) => ({
  username: s.redis.username,
  password: s.redis.password,
  tls: s.redis.tls,
});

/** kafkajs client options (ssl, sasl). */
export const kafkaAuth = (s: CliSecurity) => kafkaSecurityOptions({ tls: s.kafka.tls, sasl: s.kafka.sasl });

/** TLS settings without the CA content: what a `flashsale up` session file records for `status` and `load`. */
export const tlsRecord = (t: TlsSettings) => ({
  enabled: t.enabled,
  ...(t.caFile ? { caFile: t.caFile } : {}),
  insecureSkipVerify: t.insecureSkipVerify,
});

/** A hint naming the CA flag when a server's certificate was not trusted, else ''. */
export const tlsHint = (e: unknown, flag: string) =>
  isTlsVerificationFailure(e) ? ` (TLS certificate verification failed: pass the CA bundle with ${flag})` : '';

/** A hint naming the variables when a server refused the credentials, else ''. */
export function authHint(e: unknown, target: 'REDIS' | 'KAFKA'): string {
  const err = e as { name?: string; message?: string; cause?: unknown } | undefined;
  const text = `${err?.name ?? ''} ${err?.message ?? ''} ${String((err?.cause as Error | undefined)?.message ?? '')}`;
  if (target === 'REDIS' && /WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(text)) {
    return ' (Redis refused the credentials: check REDIS_USERNAME and REDIS_PASSWORD or --redis-password-file)';
  }
  if (target === 'KAFKA' && /SASL|authentication/i.test(text)) {
    return (
      ' (Kafka refused the SASL credentials: check KAFKA_SASL_MECHANISM, KAFKA_USERNAME and KAFKA_PASSWORD or ' +
      '--kafka-password-file)'
    );
  }
  return '';
}
