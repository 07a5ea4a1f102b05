/**
 * Kafka client comparison (issue 17, deliverable 5; not part of `make bench`): the same producer and consumer
 * workload through kafkajs (what the gateway and processor use), @platformatic/kafka and
 * @confluentinc/kafka-javascript (librdkafka, built from source here: its prebuilt binaries come from outside the
 * registries), beside Kafka's own Java clients (ProducerPerformance / ConsumerPerformance of kafka-tools) on the
 * same broker in the same run as the ceiling.
 *
 * - produce: the gateway's shape: idempotent, acks=all, the order message of the gateway (about 260 bytes, key = item,
 *   four headers), one lane per partition sending batches of `--batch` back to back (never two requests in flight for
 *   one partition, as the gateway's producer does);
 * - consume: the processor's shape: a fresh group reads the topic from the beginning, headers turned into strings,
 *   offsets committed after each batch (every `--batch` messages of a partition where the client has no batches).
 *
 * Each client runs in a child process of its own, the rounds alternate the clients; the figures are messages/s and
 * the CPU the child spent per message (from process.cpuUsage, first message to last), and the ratio to the Java
 * client's messages/s of the same round.
 *
 *   node bench/kafka-clients.ts [--messages 60000] [--batch 100] [--partitions 6] [--rounds 2]
 *                               [--clients kafkajs,platformatic,confluent,java]
 *   KAFKA_ADDR defaults to the harness's broker (node tools/harness/src/cli.ts up kafka). The candidates are
 *   installed on first use under $FSE_HOME/bench/kafka-clients (npm; the librdkafka build takes a few minutes).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, homedir, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeOrder, headersToStrings } from '@flashsale/common';
import kafkajs from 'kafkajs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '60000' },
    batch: { type: 'string', default: '100' },
    partitions: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: 'kafkajs,platformatic,confluent,java' },
    child: { type: 'string' },
    role: { type: 'string' },
    topic: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const BATCH = Number(values.batch);
const PARTITIONS = Number(values.partitions);
const BROKERS = (process.env.KAFKA_ADDR ?? '127.0.0.1:19092').split(',');
const FSE_HOME = process.env.FSE_HOME ?? join(homedir(), '.cache/flash-sale-engine');
const CANDIDATES_DIR = join(FSE_HOME, 'bench/kafka-clients');
const VERSIONS = { platformatic: '2.12.1', confluent: '1.10.1', kafka: '3.9.1' };
const ITEMS = Array.from({ length: 16 }, (_, i) => `item${i}`);

type Client = 'kafkajs' | 'platformatic' | 'confluent';
type Role = 'produce' | 'consume';
interface Result {
  client: string;
  role: Role;
  messages: number;
  wallMs: number;
  cpuUsPerMessage: number | null;
  perSecond: number;
}

/** The gateway's order message for message i (same schema, same headers). */
function orderMessage(i: number) {
  const item = ITEMS[i % ITEMS.length] as string;
  const value = encodeOrder({
    v: 1,
    order_id: `${item}.o${i}-${'x'.repeat(20)}`,
    sale: 'bench-kafka-clients',
    item_id: item,
    user_id: `user-${i}`,
    quantity: 1,
    request_id: randomUUID(),
    correlation_id: randomUUID(),
    created_at: new Date().toISOString(),
  });
  const headers = {
    correlation_id: randomUUID(),
    request_id: randomUUID(),
    'content-type': 'application/json',
    schema_version: '1',
  };
  return { key: item, value, headers };
}

/** Batches of `BATCH` for one partition's lane: lane p gets batches p, p + P, p + 2P... */
function laneBatches(p: number) {
  const out: ReturnType<typeof orderMessage>[][] = [];
  for (let start = p * BATCH; start < MESSAGES; start += PARTITIONS * BATCH) {
    const batch = [];
    for (let i = start; i < Math.min(MESSAGES, start + BATCH); i++) batch.push(orderMessage(i));
    out.push(batch);
  }
  return out;
}

/** Times `work` from `start()` (called by it at its first message) to its end: wall ms and CPU µs per message. */
function meter() {
  let t0 = 0;
  let c0: NodeJS.CpuUsage | undefined;
  return {
    start() {
      if (c0) return;
      t0 = performance.now();
      c0 = process.cpuUsage();
    },
    stop(client: string, role: Role, messages: number): Result {
      const wallMs = performance.now() - t0;
      const c = process.cpuUsage(c0);
      return {
        client,
        role,
        messages,
        wallMs,
        cpuUsPerMessage: (c.user + c.system) / messages,
        perSecond: messages / (wallMs / 1000),
      };
    },
  };
}

// ---- the children: one client, one role ----

// biome-ignore lint/suspicious/noExplicitAny: the candidates load at run time from outside the workspace, untyped
type Untyped = any;

async function loadCandidate(name: 'platformatic' | 'confluent'): Promise<Untyped> {
  if (name === 'platformatic') {
    return import(pathToFileURL(join(CANDIDATES_DIR, 'node_modules/@platformatic/kafka/dist/index.js')).href);
  }
  return createRequire(join(CANDIDATES_DIR, 'package.json'))('@confluentinc/kafka-javascript');
}

async function produceWith(client: Client, topic: string): Promise<Result> {
  const lanes = Array.from({ length: PARTITIONS }, (_, p) => laneBatches(p));
  const m = meter();
  let send: (partition: number, batch: ReturnType<typeof orderMessage>[]) => Promise<unknown>;
  let close: () => Promise<unknown>;
  if (client === 'kafkajs') {
    const k = new kafkajs.Kafka({ clientId: 'bench-kc', brokers: BROKERS, logLevel: kafkajs.logLevel.NOTHING });
    const producer = k.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    send = (partition, batch) => producer.send({ topic, acks: -1, messages: batch.map((b) => ({ ...b, partition })) });
    close = () => producer.disconnect();
  } else if (client === 'platformatic') {
    const { Producer } = await loadCandidate('platformatic');
    const producer = new Producer({ clientId: 'bench-kc', bootstrapBrokers: BROKERS, idempotent: true, acks: -1 });
    send = (partition, batch) =>
      producer.send({
        messages: batch.map((b) => ({
          topic,
          partition,
          key: Buffer.from(b.key),
          value: b.value,
          headers: new Map(Object.entries(b.headers).map(([h, v]) => [Buffer.from(h), Buffer.from(v)])),
        })),
      });
    close = () => producer.close();
  } else {
    const { KafkaJS } = await loadCandidate('confluent');
    const k = new KafkaJS.Kafka({
      kafkaJS: { clientId: 'bench-kc', brokers: BROKERS, logLevel: KafkaJS.logLevel.NOTHING },
    });
    const producer = k.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    await producer.connect();
    send = (partition, batch) => producer.send({ topic, messages: batch.map((b) => ({ ...b, partition })) });
    close = () => producer.disconnect();
  }
  // one warm-up message so connection and producer-id set-up are outside the timed part
  await send(0, [orderMessage(MESSAGES)]);
  m.start();
  await Promise.all(
    lanes.map(async (batches, p) => {
      for (const b of batches) await send(p, b);
    }),
  );
  const r = m.stop(client, 'produce', MESSAGES);
  await close();
  return r;
}

async function consumeWith(client: Client, topic: string): Promise<Result> {
  const total = MESSAGES + 1; // the warm-up message too
  const m = meter();
  let seen = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const count = (n: number) => {
    seen += n;
    if (seen >= total) done();
  };
  const groupId = `bench-kc-${randomUUID()}`;
  let close: () => Promise<unknown>;
  if (client === 'kafkajs' || client === 'confluent') {
    // the processor's eachBatch loop: headers to strings, commit after the batch
    let consumer: Untyped;
    if (client === 'kafkajs') {
      const k = new kafkajs.Kafka({ clientId: 'bench-kc', brokers: BROKERS, logLevel: kafkajs.logLevel.NOTHING });
      consumer = k.consumer({ groupId, maxWaitTimeInMs: 250, allowAutoTopicCreation: false });
    } else {
      const { KafkaJS } = await loadCandidate('confluent');
      const k = new KafkaJS.Kafka({
        kafkaJS: { clientId: 'bench-kc', brokers: BROKERS, logLevel: KafkaJS.logLevel.NOTHING },
      });
      consumer = k.consumer({ kafkaJS: { groupId, fromBeginning: true, autoCommit: false } });
    }
    await consumer.connect();
    await consumer.subscribe({ topic, ...(client === 'kafkajs' ? { fromBeginning: true } : {}) });
    await consumer.run({
      // confluent takes autoCommit at creation only
      ...(client === 'kafkajs' ? { autoCommit: false } : {}),
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: PARTITIONS,
      eachBatch: async ({ batch, resolveOffset }: Untyped) => {
        m.start();
        let sum = 0;
        for (const msg of batch.messages)
          sum += Object.keys(headersToStrings(msg.headers)).length + (msg.value?.length ?? 0);
        if (sum < 0) throw new Error('unreachable');
        const last = batch.messages[batch.messages.length - 1];
        if (!last) return;
        resolveOffset(last.offset);
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) },
        ]);
        count(batch.messages.length);
      },
    });
    close = () => consumer.disconnect();
  } else {
    const { Consumer } = await loadCandidate('platformatic');
    const consumer = new Consumer({ groupId, clientId: 'bench-kc', bootstrapBrokers: BROKERS, maxWaitTime: 250 });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
    const sinceCommit = new Map<number, number>();
    stream.on('data', (msg: Untyped) => {
      m.start();
      const h: Record<string, string> = {};
      for (const [k, v] of msg.headers as Map<Buffer, Buffer>) h[k.toString()] = v.toString();
      const n = (sinceCommit.get(msg.partition) ?? 0) + 1;
      if (n >= BATCH) {
        sinceCommit.set(msg.partition, 0);
        void msg.commit();
      } else sinceCommit.set(msg.partition, n);
      count(1);
    });
    close = async () => {
      await stream.close();
      await consumer.close(true);
    };
  }
  await finished;
  const r = m.stop(client, 'consume', total);
  await close();
  return r;
}

// ---- Kafka's own Java clients, the ceiling ----

/** kafka-tools (ProducerPerformance, ConsumerPerformance) next to the harness's broker jars, from Maven Central. */
function javaClasspath(): string {
  const libs = join(FSE_HOME, `bin/kafka-${VERSIONS.kafka}/libs`);
  const tools = join(CANDIDATES_DIR, 'java');
  if (!existsSync(join(tools, `kafka-tools-${VERSIONS.kafka}.jar`))) {
    mkdirSync(tools, { recursive: true });
    execFileSync(
      'mvn',
      [
        '-B',
        '-q',
        `-Dmaven.repo.local=${join(FSE_HOME, 'm2')}`,
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
        `-Dartifact=org.apache.kafka:kafka-tools:${VERSIONS.kafka}`,
        `-DoutputDirectory=${tools}`,
      ],
      { stdio: 'inherit' },
    );
  }
  return `${libs}/*:${tools}/*`;
}

function runJava(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('java', ['-Xmx512m', '-cp', javaClasspath(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`java ${args[0]} exited ${code}: ${out.slice(-500)}`)),
    );
  });
}

async function javaRound(topic: string): Promise<Result[]> {
  const size = orderMessage(0).value.length + 120; // the headers travel in the record too
  const p = await runJava([
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(MESSAGES),
    '--record-size',
    String(size),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${BROKERS.join(',')}`,
    'acks=all',
    'enable.idempotence=true',
    'linger.ms=2',
  ]);
  const pm = /(\d+) records sent, ([\d.]+) records\/sec/.exec(p);
  if (!pm) throw new Error(`ProducerPerformance printed no summary: ${p.slice(-500)}`);
  const c = await runJava([
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server',
    BROKERS.join(','),
    '--topic',
    topic,
    '--messages',
    String(MESSAGES),
    '--group',
    `bench-kc-${randomUUID()}`,
  ]);
  // header line, then: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
  // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec: the last leaves the group join out, as the Node
  // children's clocks start at their first message
  const row =
    c
      .trim()
      .split('\n')
      .at(-1)
      ?.split(',')
      .map((s) => s.trim()) ?? [];
  const nMsgSec = Number(row[9]);
  if (!Number.isFinite(nMsgSec)) throw new Error(`ConsumerPerformance printed no summary: ${c.slice(-500)}`);
  return [
    {
      client: 'java',
      role: 'produce',
      messages: MESSAGES,
      wallMs: (MESSAGES / Number(pm[2])) * 1000,
      cpuUsPerMessage: null,
      perSecond: Number(pm[2]),
    },
    {
      client: 'java',
      role: 'consume',
      messages: MESSAGES,
      wallMs: (MESSAGES / nMsgSec) * 1000,
      cpuUsPerMessage: null,
      perSecond: nMsgSec,
    },
  ];
}

// ---- the parent ----

function ensureCandidates(wanted: string[]): Map<string, string> {
  const missing = new Map<string, string>();
  const want = (c: Client) => wanted.includes(c);
  mkdirSync(CANDIDATES_DIR, { recursive: true });
  if (!existsSync(join(CANDIDATES_DIR, 'package.json')))
    writeFileSync(join(CANDIDATES_DIR, 'package.json'), '{"private":true}\n');
  const nodeDir = dirname(dirname(process.execPath));
  const install = (c: Client, spec: string, extra: string[]) => {
    try {
      execFileSync('npm', ['install', '--save-exact', '--prefix', CANDIDATES_DIR, spec, ...extra], {
        stdio: 'inherit',
        // CKJS_LINKING=dynamic: librdkafka's configure against the system's libssl and zlib; its default (static) downloads them
        env: { ...process.env, npm_config_nodedir: nodeDir, CKJS_LINKING: 'dynamic' },
      });
    } catch (e) {
      missing.set(c, `npm install ${spec} failed: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  if (want('platformatic') && !existsSync(join(CANDIDATES_DIR, 'node_modules/@platformatic/kafka/package.json')))
    install('platformatic', `@platformatic/kafka@${VERSIONS.platformatic}`, []);
  const confluentBuilt = join(CANDIDATES_DIR, 'node_modules/@confluentinc/kafka-javascript/build/Release');
  if (
    want('confluent') &&
    !(existsSync(confluentBuilt) && readdirSync(confluentBuilt).some((f) => f.endsWith('.node')))
  )
    install('confluent', `@confluentinc/kafka-javascript@${VERSIONS.confluent}`, ['--build-from-source']);
  return missing;
}

function runChild(client: Client, role: Role, topic: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const args = [
      process.argv[1] as string,
      '--child',
      client,
      '--role',
      role,
      '--topic',
      topic,
      '--messages',
      String(MESSAGES),
      '--batch',
      String(BATCH),
      '--partitions',
      String(PARTITIONS),
    ];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as Result);
      else reject(new Error(`${client} ${role} exited ${code}: ${out.slice(-500)}`));
    });
  });
}

async function parent(): Promise<void> {
  const wanted = String(values.clients).split(',');
  const missing = ensureCandidates(wanted);
  const clients = wanted.filter((c) => !missing.has(c));
  const admin = new kafkajs.Kafka({
    clientId: 'bench-kc',
    brokers: BROKERS,
    logLevel: kafkajs.logLevel.NOTHING,
  }).admin();
  await admin.connect();
  const results: (Result & { round: number })[] = [];
  const load0 = loadavg()[0] as number;
  const rounds = Number(values.rounds);
  for (let round = 1; round <= rounds; round++) {
    // alternate the order so no client always runs first (or right after the JVM)
    const order = round % 2 === 1 ? clients : [...clients].reverse();
    for (const c of order) {
      const topic = `bench-kc-${c}-${randomUUID().slice(0, 8)}`;
      await admin.createTopics({
        topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
        waitForLeaders: true,
      });
      try {
        if (c === 'java') for (const r of await javaRound(topic)) results.push({ ...r, round });
        else {
          results.push({ ...(await runChild(c as Client, 'produce', topic)), round });
          results.push({ ...(await runChild(c as Client, 'consume', topic)), round });
        }
      } catch (e) {
        missing.set(c, (e as Error).message.split('\n')[0] as string);
      } finally {
        await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      }
      const last = results.filter((r) => r.client === c && r.round === round);
      for (const r of last)
        process.stdout.write(
          `round ${round} ${c.padEnd(12)} ${r.role.padEnd(8)} ${Math.round(r.perSecond).toLocaleString('en-US').padStart(8)} msg/s` +
            (r.cpuUsPerMessage === null ? '' : `  ${r.cpuUsPerMessage.toFixed(1)} µs CPU/msg`) +
            '\n',
        );
    }
  }
  await admin.disconnect();
  report(results, missing, load0);
}

function report(results: (Result & { round: number })[], missing: Map<string, string>, load0: number): void {
  const lines = [
    `Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; load average (1 min) ${load0.toFixed(2)} before, ${(loadavg()[0] as number).toFixed(2)} after.`,
    `${MESSAGES.toLocaleString('en-US')} messages of ${orderMessage(0).value.length} bytes + 4 headers, ${PARTITIONS} partitions, batches of ${BATCH}, one broker (Kafka ${VERSIONS.kafka}); ratio = messages/s over the Java client's in the same round.`,
    '',
    '| client | role | messages/s per round | ratio to Java (per round) | CPU µs per message (per round) |',
    '|---|---|---|---|---|',
  ];
  for (const client of ['kafkajs', 'platformatic', 'confluent', 'java']) {
    for (const role of ['produce', 'consume'] as Role[]) {
      const rows = results.filter((r) => r.client === client && r.role === role);
      if (rows.length === 0) continue;
      const ratio = rows.map((r) => {
        const j = results.find((x) => x.client === 'java' && x.role === role && x.round === r.round);
        return j ? (r.perSecond / j.perSecond).toFixed(2) : '-';
      });
      lines.push(
        `| ${client} | ${role} | ${rows.map((r) => Math.round(r.perSecond).toLocaleString('en-US')).join(', ')} | ${ratio.join(', ')} | ${rows.map((r) => (r.cpuUsPerMessage === null ? '-' : r.cpuUsPerMessage.toFixed(1))).join(', ')} |`,
      );
    }
  }
  for (const [c, why] of missing) lines.push(`\n${c}: not measured: ${why}`);
  const file = join(
    import.meta.dirname,
    `results/kafka-clients-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(
    file,
    `${JSON.stringify({ results, missing: Object.fromEntries(missing), messages: MESSAGES, batch: BATCH, partitions: PARTITIONS }, null, 2)}\n`,
  );
  process.stdout.write(`\n${lines.join('\n')}\n\nwrote ${file}\n`);
}

if (values.child) {
  const r =
    values.role === 'produce'
      ? await produceWith(values.child as Client, String(values.topic))
      : await consumeWith(values.child as Client, String(values.topic));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
} else {
  await parent();
}
