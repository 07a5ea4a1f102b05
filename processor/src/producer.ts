/** The processor's only Kafka producer: writes dead letters, and sends stuck orders again (./stuck-orders.ts). */
import { type KafkaSasl, kafkaSecurityOptions, type Logger, type TlsOption } from '@flashsale/common';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS; its spread exports are invisible to ESM named imports
const { Kafka, logLevel: KafkaLogLevel, Partitioners } = kafkajs;

export interface OutRecord {
  /** the DLQ partition; records of one call to `send` with the same partition go out in one request */
  partition?: number | undefined;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers: Record<string, string | Buffer>;
}

export interface DlqSink {
  /** Resolves once every record is acknowledged by all in-sync replicas (to the DLQ unless `topic` is given). */
  send(records: OutRecord[], topic?: string): Promise<void>;
}

export class DlqProducer implements DlqSink {
  readonly topic: string;
  private readonly producer;
  constructor(
    kafkaCfg: { brokers: string[]; clientId: string; tls: TlsOption; sasl?: KafkaSasl | undefined },
    topic: string,
    log: Logger,
  ) {
    this.topic = topic;
    const kafka = new Kafka({
      clientId: `${kafkaCfg.clientId}-dlq`,
      brokers: kafkaCfg.brokers,
      ...kafkaSecurityOptions({ tls: kafkaCfg.tls, sasl: kafkaCfg.sasl }),
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (e) => log.warn({ event: 'kafka_producer', kafka: e.log.message }, 'kafka producer'),
    });
    this.producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async send(records: OutRecord[], topic = this.topic): Promise<void> {
    if (records.length === 0) return;
    // One request per partition: each goes to one partition leader (kafkajs can acknowledge multi-broker sends
    // that were never written when a leader moves; see docs/design-notes.md). Records without a partition go
    // one per request.
    const groups = new Map<number | string, OutRecord[]>();
    records.forEach((r, i) => {
      const k = r.partition ?? `single-${i}`;
      const group = groups.get(k);
      // appended in place: copying the group for each record made a batch of n letters cost n^2 / 2 copies
      if (group) group.push(r);
      else groups.set(k, [r]);
    });
    await Promise.all(
      [...groups.values()].map((rs) =>
        this.producer.send({
          topic,
          acks: -1,
          messages: rs.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers,
            ...(r.partition !== undefined ? { partition: r.partition } : {}),
          })),
        }),
      ),
    );
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}
