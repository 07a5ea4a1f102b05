/** Apache Kafka 3.9.1 in KRaft mode from Maven Central jars: one node (`kafka`) or three brokers (`kafka3`). */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka } from '../install.ts';
import { binPaths, HOST, logFile, ports, serviceDir } from '../paths.ts';
import type { Daemon } from '../proc.ts';
import { assertPortsFree, run, spawnDaemon, waitFor } from '../proc.ts';
import type { NativeService } from './service.ts';

export const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.controller=INFO
log4j.logger.org.apache.kafka.raft=WARN
`;

interface Node {
  id: number;
  broker: number;
  controller: number;
}

function serverProperties(node: Node, all: Node[], dataDir: string): string {
  const n = all.length;
  const rf = n >= 3 ? 3 : 1;
  const isr = n >= 3 ? 2 : 1;
  return [
    'process.roles=broker,controller',
    `node.id=${node.id}`,
    `controller.quorum.voters=${all.map((x) => `${x.id}@${HOST}:${x.controller}`).join(',')}`,
    `listeners=PLAINTEXT://${HOST}:${node.broker},CONTROLLER://${HOST}:${node.controller}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${node.broker}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    `num.partitions=1`,
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${isr}`,
    `offsets.topic.replication.factor=${rf}`,
    'offsets.topic.num.partitions=10',
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${isr}`,
    'transaction.state.log.num.partitions=4',
    'group.initial.rebalance.delay.ms=0',
    // a dead broker is noticed in ~3 s instead of 9 s (tests that kill brokers)
    'broker.heartbeat.interval.ms=500',
    'broker.session.timeout.ms=3000',
    'auto.create.topics.enable=false',
    'log.segment.bytes=67108864',
    'log.retention.check.interval.ms=60000',
    '',
  ].join('\n');
}

export function java(libs: string, log4j: string, heap: string, mainClass: string, args: string[]): [string, string[]] {
  return [
    'java',
    [
      `-Xms${heap === '512m' ? '256m' : heap}`,
      `-Xmx${heap}`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${log4j}`,
      '-cp',
      `${libs}/*`,
      mainClass,
      ...args,
    ],
  ];
}

async function describe(brokers: string[]): Promise<number> {
  const kafka = new Kafka({
    clientId: 'fse-harness',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const d = await admin.describeCluster();
    return d.brokers.length;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function startCluster(name: 'kafka' | 'kafka3', nodes: Node[], started: Daemon[]): Promise<string[]> {
  const base = serviceDir(name);
  const env =
    name === 'kafka' ? ['FSE_KAFKA_PORT', 'FSE_KAFKA_CONTROLLER_PORT'] : ['FSE_KAFKA3_PORT', 'FSE_KAFKA3_PORT'];
  await assertPortsFree(
    name,
    nodes.flatMap((n) => [
      { port: n.broker, env: env[0]! },
      { port: n.controller, env: env[1]! },
    ]),
  );
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  const log4j = join(base, 'log4j.properties');
  writeFileSync(log4j, LOG4J);
  const libs = binPaths.kafkaLibs;
  const logPath = logFile(name);
  const heap = process.env.FSE_KAFKA_HEAP || '512m';
  const clusterId = (
    await run(...java(libs, log4j, '256m', 'kafka.tools.StorageTool', ['random-uuid']), { cwd: base })
  ).stdout.trim();
  const configs: string[] = [];
  for (const node of nodes) {
    const dataDir = join(base, `node-${node.id}`, 'data');
    mkdirSync(dataDir, { recursive: true });
    const cfg = join(base, `node-${node.id}`, 'server.properties');
    writeFileSync(cfg, serverProperties(node, nodes, dataDir));
    configs.push(cfg);
  }
  // format in parallel: each is a JVM start (~2 s)
  await Promise.all(
    configs.map((cfg) =>
      run(...java(libs, log4j, '256m', 'kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', cfg]), {
        cwd: base,
        logPath,
      }),
    ),
  );
  nodes.forEach((node, i) => {
    const [cmd, args] = java(libs, log4j, heap, 'kafka.Kafka', [configs[i]!]);
    started.push(
      spawnDaemon(`${name}:${node.id}`, cmd, args, {
        logPath: nodes.length > 1 ? logFile(`${name}-${node.id}`) : logPath,
        cwd: base,
        match: configs[i]!,
      }),
    );
  });
  const brokers = nodes.map((n) => `${HOST}:${n.broker}`);
  await waitFor(
    `${name}: describeCluster shows ${nodes.length} broker(s) at ${brokers.join(',')}`,
    async () => (await describe(brokers)) === nodes.length,
    { timeoutMs: 90_000, intervalMs: 500, alive: started, logPath },
  );
  return brokers;
}

async function healthy(brokers: string[], expected: number): Promise<boolean> {
  try {
    return (await describe(brokers)) === expected;
  } catch {
    return false;
  }
}

export const kafka: NativeService<'kafka'> = {
  name: 'kafka',
  install: ensureKafka,
  async start(started) {
    const p = ports();
    const brokers = await startCluster('kafka', [{ id: 1, broker: p.kafka, controller: p.kafkaController }], started);
    return { brokers };
  },
  healthy: (e) => healthy(e.brokers, 1),
};

export const kafka3: NativeService<'kafka3'> = {
  name: 'kafka3',
  install: ensureKafka,
  async start(started) {
    const nodes = ports().kafka3.map((x, i) => ({ id: i + 1, ...x }));
    const brokers = await startCluster('kafka3', nodes, started);
    return { brokers };
  },
  healthy: (e) => healthy(e.brokers, 3),
};
