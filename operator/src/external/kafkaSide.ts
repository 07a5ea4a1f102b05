/**
 * The Kafka side of a sale, for the operator: one admin client per distinct cluster connection, topics ensured
 * through `@flashsale/common`'s kafka-admin (create if missing, grow partitions, never shrink) and deleted on
 * `deletionPolicy: Delete`.
 */
import {
  deleteTopics,
  type EnsureTopicsResult,
  ensureTopics,
  type FlashSaleSpec,
  parseDurationMs,
  tlsConnectOptions,
  topicReplication,
} from '@flashsale/common';
import kafkajs, { type Admin, type SASLOptions } from 'kafkajs';

const { Kafka, logLevel } = kafkajs;

export interface KafkaCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /** CA bundle (PEM) from `spec.kafka.tls.caSecretRef`, kept in memory only */
  ca?: string | undefined;
}

export class KafkaAdmins {
  private readonly admins = new Map<string, Promise<Admin>>();
  private readonly clientId: string;

  constructor(clientId = 'flashsale-operator') {
    this.clientId = clientId;
  }

  private key(spec: FlashSaleSpec['kafka'], creds: KafkaCredentials) {
    return JSON.stringify([
      spec.brokers,
      spec.tls.enabled,
      spec.tls.insecureSkipVerify,
      creds.ca,
      spec.sasl?.mechanism,
      creds.username,
      creds.password,
    ]);
  }

  async get(spec: FlashSaleSpec['kafka'], creds: KafkaCredentials): Promise<Admin> {
    const key = this.key(spec, creds);
    let p = this.admins.get(key);
    if (!p) {
      const sasl: SASLOptions | undefined =
        spec.sasl && creds.username !== undefined && creds.password !== undefined
          ? ({ mechanism: spec.sasl.mechanism, username: creds.username, password: creds.password } as SASLOptions)
          : undefined;
      const kafka = new Kafka({
        clientId: this.clientId,
        brokers: spec.brokers.split(','),
        ssl: spec.tls.enabled
          ? tlsConnectOptions({ enabled: true, ca: creds.ca, insecureSkipVerify: spec.tls.insecureSkipVerify })
          : false,
        ...(sasl ? { sasl } : {}),
        connectionTimeout: 3000,
        requestTimeout: 10_000,
        retry: { retries: 2, initialRetryTime: 200 },
        logLevel: logLevel.NOTHING,
      });
      const admin = kafka.admin();
      p = admin.connect().then(() => admin);
      this.admins.set(key, p);
      p.catch(() => this.admins.delete(key));
    }
    return p;
  }

  /** Forget a connection after an error so the next reconcile reconnects. */
  async drop(spec: FlashSaleSpec['kafka'], creds: KafkaCredentials): Promise<void> {
    const key = this.key(spec, creds);
    const p = this.admins.get(key);
    this.admins.delete(key);
    if (p) await p.then((a) => a.disconnect()).catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.admins.values()];
    this.admins.clear();
    await Promise.all(all.map((p) => p.then((a) => a.disconnect()).catch(() => undefined)));
  }
}

/** Create or grow the sale's topics; replication from the spec, else what the cluster allows (topicReplication). */
export async function ensureSaleTopics(admin: Admin, sale: string, spec: FlashSaleSpec): Promise<EnsureTopicsResult> {
  return ensureTopics(admin, {
    sale,
    partitions: spec.topics.partitions,
    ...(await topicReplication(admin, spec.topics.replicationFactor)),
    retentionMs: parseDurationMs(spec.topics.retention),
    dlqPartitions: spec.topics.dlqPartitions,
  });
}

export const deleteSaleTopics = (admin: Admin, sale: string) => deleteTopics(admin, sale);
