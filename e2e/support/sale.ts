/** A sale of its own for one fault test: seeded items and both topics, on whichever Redis and Kafka it is given. */
import { randomUUID } from 'node:crypto';
import { ensureTopics, type RedisClient, seedItem } from '@flashsale/common';
import kafkajs, { type KafkaConfig } from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export const uniqueSale = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export function kafkaAdmin(brokers: string[], extra: Partial<KafkaConfig> = {}) {
  return new Kafka({
    clientId: 'fse-e2e',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 5 },
    ...extra,
  }).admin();
}

export async function prepareSale(opts: {
  redis: RedisClient;
  brokers: string[];
  sale: string;
  items: Record<string, number>;
  partitions?: number;
  kafka?: Partial<KafkaConfig>;
}): Promise<void> {
  for (const [item, qty] of Object.entries(opts.items)) await seedItem(opts.redis, opts.sale, item, qty);
  const admin = kafkaAdmin(opts.brokers, opts.kafka);
  await admin.connect();
  try {
    await ensureTopics(admin, { sale: opts.sale, partitions: opts.partitions ?? 4, replication: 1, dlqPartitions: 1 });
  } finally {
    await admin.disconnect();
  }
}

/** Common environment of a sale's gateway and processor. */
export function saleProcEnv(sale: string, redisAddr: string, brokers: string[], extra: Record<string, string> = {}) {
  return { SALE_NAME: sale, REDIS_ADDR: redisAddr, KAFKA_ADDR: brokers.join(','), ENSURE_TOPICS: 'false', ...extra };
}
