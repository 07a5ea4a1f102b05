/**
 * Credentials and CA bundles the operator itself needs to reach Redis and Kafka, read from the Secrets the spec
 * references. They stay in memory (the pool keys); the workloads get Secret references and a mounted CA file instead.
 */
import { type FlashSaleSpec, pemProblem, type SecretKeyRef } from '@flashsale/common';
import type { KafkaCredentials } from '../external/kafkaSide.ts';
import type { RedisCredentials } from '../external/redisSide.ts';
import type { Deps } from './context.ts';

export interface Credentials {
  redis: RedisCredentials;
  kafka: KafkaCredentials;
  /** references that did not resolve ("secret/key"), or a CA key without a usable PEM certificate */
  missing: string[];
}

export async function readCredentials(deps: Deps, namespace: string, spec: FlashSaleSpec): Promise<Credentials> {
  const missing: string[] = [];
  const read = async (ref: SecretKeyRef | undefined) => {
    if (!ref) return undefined;
    const v = await deps.kube.readSecretKey(namespace, ref.name, ref.key);
    if (v === undefined) missing.push(`${ref.name}/${ref.key}`);
    return v;
  };
  /** the CA bundle of a target with TLS on; its content is never put into a message */
  const readCa = async (tls: FlashSaleSpec['redis']['tls']) => {
    if (!tls.enabled || !tls.caSecretRef) return undefined;
    const pem = await read(tls.caSecretRef);
    if (pem === undefined) return undefined;
    const problem = pemProblem(pem, `${tls.caSecretRef.name}/${tls.caSecretRef.key}`);
    if (problem) missing.push(problem);
    return problem ? undefined : pem;
  };
  return {
    redis: {
      username: await read(spec.redis.usernameSecretRef),
      password: await read(spec.redis.passwordSecretRef),
      ca: await readCa(spec.redis.tls),
    },
    kafka: {
      username: await read(spec.kafka.sasl?.usernameSecretRef),
      password: await read(spec.kafka.sasl?.passwordSecretRef),
      ca: await readCa(spec.kafka.tls),
    },
    missing,
  };
}
