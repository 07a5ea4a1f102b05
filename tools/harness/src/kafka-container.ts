/**
 * A single-node KRaft Kafka for testcontainers, on any image with the official docker.io/apache/kafka configuration
 * interface (KAFKA_* variables, /etc/kafka/docker/run), such as the one `make images` builds. Clients outside the
 * container need the broker to advertise the host's mapped port, which is known only after the container started:
 * the container waits for a file holding the advertised listeners, copied in once the port is mapped (the trick of
 * @testcontainers/redpanda). Brokers talk to each other on a second listener inside the container.
 */
import type { Readable } from 'node:stream';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';

const CLIENT_PORT = 9092;
const LISTENERS_FILE = '/tmp/fse-advertised-listeners';
const WAITING = 'waiting for the advertised listeners';
const STARTED = 'Kafka Server started';

export class KafkaKraftContainer extends GenericContainer {
  private readyTimeoutMs = 120_000;

  constructor(image: string) {
    super(image);
    this.withExposedPorts(CLIENT_PORT)
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
        KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
        // as the native harness's single node (tools/harness/src/services/kafka.ts)
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
        KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
        KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
        KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '4',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
        KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
        KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
      })
      .withEntrypoint(['/bin/bash', '-c'])
      .withCommand([
        `echo '${WAITING}'; while [ ! -s ${LISTENERS_FILE} ]; do sleep 0.1; done; ` +
          `export KAFKA_ADVERTISED_LISTENERS="$(cat ${LISTENERS_FILE})"; exec /etc/kafka/docker/run`,
      ])
      .withWaitStrategy(Wait.forLogMessage(WAITING));
  }

  withReadyTimeout(ms: number): this {
    this.readyTimeoutMs = ms;
    return this;
  }

  override async start(): Promise<StartedKafkaKraftContainer> {
    const c = await super.start();
    try {
      const advertised = `PLAINTEXT://${c.getHost()}:${c.getMappedPort(CLIENT_PORT)},BROKER://localhost:9094`;
      await c.copyContentToContainer([{ content: advertised, target: LISTENERS_FILE }]);
      await waitForLine(await c.logs(), STARTED, this.readyTimeoutMs);
    } catch (e) {
      await c.stop().catch(() => undefined);
      throw e;
    }
    return new StartedKafkaKraftContainer(c);
  }
}

export class StartedKafkaKraftContainer extends AbstractStartedContainer {
  constructor(c: StartedTestContainer) {
    super(c);
  }

  getBootstrapServers(): string {
    return `${this.getHost()}:${this.getMappedPort(CLIENT_PORT)}`;
  }
}

/** Resolves when a log line contains `text`; rejects with the last lines after `timeoutMs` or when the log ends. */
function waitForLine(stream: Readable, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let tail = '';
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.removeAllListeners('data');
      stream.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => done(new Error(`Kafka did not log '${text}' within ${timeoutMs} ms; last output:\n${tail}`)),
      timeoutMs,
    );
    stream.on('data', (b: Buffer | string) => {
      tail = `${tail}${b.toString()}`.slice(-4000);
      if (tail.includes(text)) done();
    });
    stream.once('end', () => done(new Error(`the Kafka container stopped before '${text}'; last output:\n${tail}`)));
    stream.once('error', (e) => done(e));
  });
}
