/** The sale's ConfigMap: the environment gateway and processor share (both read it with envFrom). */
import { createHash } from 'node:crypto';
import type { FlashSaleSpec } from '@flashsale/common';
import { childNames } from '../api/types.ts';
import { childMeta, type SaleRef } from './meta.ts';

export function sharedEnv(sale: string, spec: FlashSaleSpec): Record<string, string> {
  return {
    SALE_NAME: sale,
    SALE_STARTS_AT: spec.startsAt,
    SALE_ENDS_AT: spec.endsAt,
    REDIS_ADDR: spec.redis.addr,
    REDIS_MODE: spec.redis.mode,
    REDIS_TLS: String(spec.redis.tls.enabled),
    KAFKA_ADDR: spec.kafka.brokers,
    KAFKA_TLS: String(spec.kafka.tls.enabled),
    TOPIC_PARTITIONS: String(spec.topics.partitions),
    TOPIC_REPLICATION: String(spec.topics.replicationFactor),
    /** the operator owns the topics; the processor must not create them */
    ENSURE_TOPICS: 'false',
  };
}

export function buildConfigMap(sale: SaleRef, spec: FlashSaleSpec) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: childMeta(sale, childNames(sale.name).config, 'config'),
    data: sharedEnv(sale.name, spec),
  };
}

/** Stable hash of data, put on pod templates so a configuration change rolls the pods. */
export function configHash(data: unknown): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16);
}
