/** Credentials the operator itself needs to reach Redis and Kafka, read from the Secrets the spec references. */
import type { FlashSaleSpec, SecretKeyRef } from '@flashsale/common';
import type { KafkaCredentials } from '../external/kafkaSide.ts';
import type { RedisCredentials } from '../external/redisSide.ts';
import type { Deps } from './context.ts';

export interface Credentials {
  redis: RedisCredentials;
  kafka: KafkaCredentials;
  /** references that did not resolve ("secret/key") */
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
  return {
    redis: { username: await read(spec.redis.usernameSecretRef), password: await read(spec.redis.passwordSecretRef) },
    kafka: {
      username: await read(spec.kafka.sasl?.usernameSecretRef),
      password: await read(spec.kafka.sasl?.passwordSecretRef),
    },
    missing,
  };
}
