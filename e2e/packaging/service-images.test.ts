/**
 * The images `make images` builds for the quick start and the real node, run with podman the way a pod runs them:
 * Redis like the official image (user 999, /data), Kafka configured only through the apache/kafka environment
 * contract (read-only root, uid 1000), pause exiting on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImages, IMAGE_NAMES, podmanEnv } from '../../tools/harness/src/images.ts';
import { eventually, freePort } from '../support/wait.ts';
import { type RunResult, run } from './support.ts';

const started: string[] = [];
const podman = (args: string[], timeoutMs = 60_000): Promise<RunResult> =>
  run('podman', args, { env: podmanEnv(), timeoutMs });

/** A detached container: `options` for podman run, then the image's default command. */
async function start(image: string, options: string[] = []): Promise<string> {
  const name = `fse-svc-image-${randomUUID().slice(0, 8)}`;
  const r = await podman(['run', '--detach', '--name', name, ...options, image]);
  expect(r.code, r.stderr).toBe(0);
  started.push(name);
  return name;
}

/** One inline-protocol PING to 127.0.0.1:port; the first line of the answer. */
function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write('PING\r\n'));
    sock.setTimeout(2000, () => sock.destroy(new Error('no answer')));
    sock.once('data', (b) => {
      sock.end();
      resolve(b.toString().split('\r\n')[0]!);
    });
    sock.once('error', reject);
  });
}

const logsOf = async (name: string) => {
  const r = await podman(['logs', name]);
  return `${r.stdout}${r.stderr}`;
};

beforeAll(async () => {
  await ensureImages({ only: ['redis', 'kafka', 'pause'], archives: false });
}, 20 * 60_000);

afterAll(async () => {
  if (started.length) await podman(['rm', '--force', '--volumes', '--time', '5', ...started]);
});

describe('service images (podman)', () => {
  it('Redis: redis-server and redis-cli on PATH, runs as redis 999:999 in /data, protected mode off', async () => {
    const users = await podman([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      IMAGE_NAMES.redis,
      '-c',
      'id redis; stat -c %U /data; pwd; redis-server --version',
    ]);
    expect(users.code, users.stderr).toBe(0);
    const [id, owner, cwd, version] = users.stdout.trim().split('\n');
    expect(id).toBe('uid=999(redis) gid=999(redis) groups=999(redis)');
    expect([owner, cwd]).toEqual(['redis', '/data']);
    expect(version).toContain('v=7.0.15');

    const name = await start(IMAGE_NAMES.redis, ['--publish', '127.0.0.1::6379']);
    const port = await eventually('the published Redis port', async () => {
      const p = await podman(['port', name, '6379/tcp']);
      return p.code === 0 && Number(p.stdout.trim().split(':').pop());
    });
    // from the host, through the published port (not only inside the container)
    const pong = await eventually('PING through the published port', () => ping(port));
    expect(pong).toBe('+PONG');
    const mode = await podman(['exec', name, 'redis-cli', 'config', 'get', 'protected-mode']);
    expect(mode.stdout.split('\n')[1]).toBe('no');
    const status = await podman(['exec', name, 'sh', '-c', 'grep -E "^(Uid|Gid):" /proc/1/status']);
    expect(status.stdout).toMatch(/^Uid:\s+999\s+999/m);
  });

  it('Kafka: configured only by KAFKA_* variables and CLUSTER_ID, read-only root, uid 1000; a client produces and reads back', async () => {
    const [port, controller] = [await freePort(), await freePort()];
    const env = {
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${controller}`,
      KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_LOG_RETENTION_MS: '600000',
      KAFKA_HEAP_OPTS: '-Xms256m -Xmx256m',
      CLUSTER_ID: 'Zm9yLWZzZS1pbWFnZS10ZQ',
    };
    const name = await start(IMAGE_NAMES.kafka, [
      '--network',
      'host',
      '--read-only',
      '--cap-drop=ALL',
      '--security-opt',
      'no-new-privileges',
      '--user',
      '1000:1000',
      ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ]);
    await eventually(
      'Kafka Server started',
      async () => (await logsOf(name)).includes('Kafka Server started'),
      120_000,
    );
    const log = await logsOf(name);
    // every variable became its property; the storage was formatted with CLUSTER_ID
    for (const line of [
      'node.id=1',
      'auto.create.topics.enable=false',
      'log.retention.ms=600000',
      'log.dirs=/var/lib/kafka/data',
    ])
      expect(log).toContain(line);
    expect(log).toContain('formatting storage (cluster id Zm9yLWZzZS1pbWFnZS10ZQ)');
    const meta = await podman(['exec', name, 'cat', '/var/lib/kafka/data/meta.properties']);
    expect(meta.stdout).toContain('cluster.id=Zm9yLWZzZS1pbWFnZS10ZQ');

    const kafka = new kafkajs.Kafka({
      clientId: 'fse-image-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'image-check', numPartitions: 2 }], waitForLeaders: true });
      await producer.send({
        topic: 'image-check',
        acks: -1,
        messages: [
          { key: 'a', value: '1' },
          { key: 'b', value: '2' },
        ],
      });
      const offsets = await admin.fetchTopicOffsets('image-check');
      expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(2);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    // SIGTERM: the broker shuts down cleanly within the grace period (the JVM then exits 143, as the official image)
    const t0 = Date.now();
    expect((await podman(['stop', '--time', '30', name], 45_000)).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim()).toBe('143');
    expect(await logsOf(name)).toContain('App info kafka.server for 1 unregistered'); // the last step of its shutdown
  }, 180_000);

  it('pause: sleeps as uid 65535 and exits 0 at once on SIGTERM', async () => {
    const name = await start(IMAGE_NAMES.pause);
    const id = await podman(['exec', name, 'id', '-u']);
    expect(id.stdout.trim()).toBe('65535');
    const t0 = Date.now();
    expect((await podman(['stop', '--time', '10', name])).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).stdout.trim()).toBe('0');
  });
});
