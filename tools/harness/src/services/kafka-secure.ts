/**
 * `kafkaSecure`: a single KRaft Kafka node whose only client listener is SASL_SSL: TLS with a throwaway CA
 * (PEM keystore, no keytool), SASL/SCRAM-SHA-512 and -256 with users created at format time
 * (`kafka-storage format --add-scram`, KRaft-native since Kafka 3.5). Brokers talk to themselves over the same
 * SASL_SSL listener as `admin`; the controller listener is plaintext on loopback (never advertised to clients).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka } from '../install.ts';
import { binPaths, HOST, logFile, ports, serviceDir } from '../paths.ts';
import { assertPortsFree, run, spawnDaemon, waitFor } from '../proc.ts';
import { makeCerts, throwawayPassword } from './certs.ts';
import { java, LOG4J } from './kafka.ts';
import type { Endpoint, NativeService } from './service.ts';

export const KAFKA_SECURE_USER = 'flashsale';

async function secureHealthy(e: Endpoint<'kafkaSecure'>): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'fse-harness',
    brokers: e.brokers,
    ssl: { ca: [readFileSync(e.ca, 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username: e.username, password: e.password },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length === 1;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export const kafkaSecure: NativeService<'kafkaSecure'> = {
  name: 'kafkaSecure',
  install: ensureKafka,
  async start(started) {
    const p = ports().kafkaSecure;
    await assertPortsFree('kafkaSecure', [
      { port: p.broker, env: 'FSE_KAFKA_SECURE_PORT' },
      { port: p.controller, env: 'FSE_KAFKA_SECURE_PORT' },
    ]);
    const base = serviceDir('kafkaSecure');
    rmSync(base, { recursive: true, force: true });
    mkdirSync(base, { recursive: true });
    const tls = await makeCerts(join(base, 'tls'), 'kafka-secure');
    const log4j = join(base, 'log4j.properties');
    writeFileSync(log4j, LOG4J);
    const password = throwawayPassword('k');
    const adminPassword = throwawayPassword('a');
    const jaas = (u: string, pw: string) =>
      `org.apache.kafka.common.security.scram.ScramLoginModule required username="${u}" password="${pw}";`;
    const dataDir = join(base, 'data');
    const cfg = join(base, 'server.properties');
    writeFileSync(
      cfg,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${HOST}:${p.controller}`,
        `listeners=SASL_SSL://${HOST}:${p.broker},CONTROLLER://${HOST}:${p.controller}`,
        `advertised.listeners=SASL_SSL://${HOST}:${p.broker}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=SASL_SSL',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL',
        'sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256',
        'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
        `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaas('admin', adminPassword)}`,
        `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${jaas('admin', adminPassword)}`,
        'ssl.keystore.type=PEM',
        `ssl.keystore.location=${tls.bundle}`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${tls.ca}`,
        'ssl.client.auth=none',
        `log.dirs=${dataDir}`,
        'num.partitions=1',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=4',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'transaction.state.log.num.partitions=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=false',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const libs = binPaths.kafkaLibs;
    const logPath = logFile('kafkaSecure');
    const clusterId = (
      await run(...java(libs, log4j, '256m', 'kafka.tools.StorageTool', ['random-uuid']), { cwd: base })
    ).stdout.trim();
    const scram = (mech: string, u: string, pw: string) => ['--add-scram', `${mech}=[name=${u},password=${pw}]`];
    await run(
      ...java(libs, log4j, '256m', 'kafka.tools.StorageTool', [
        'format',
        '-t',
        clusterId,
        '-c',
        cfg,
        ...scram('SCRAM-SHA-512', 'admin', adminPassword),
        ...scram('SCRAM-SHA-512', KAFKA_SECURE_USER, password),
        ...scram('SCRAM-SHA-256', KAFKA_SECURE_USER, password),
      ]),
      { cwd: base, logPath },
    );
    const heap = process.env.FSE_KAFKA_HEAP || '384m';
    const [cmd, args] = java(libs, log4j, heap, 'kafka.Kafka', [cfg]);
    const d = spawnDaemon('kafkaSecure', cmd, args, { logPath, cwd: base, match: cfg });
    started.push(d);
    const endpoint: Endpoint<'kafkaSecure'> = {
      brokers: [`${HOST}:${p.broker}`],
      ca: tls.ca,
      mechanism: 'scram-sha-512',
      username: KAFKA_SECURE_USER,
      password,
    };
    await waitFor(`kafkaSecure: SASL_SSL describeCluster at ${endpoint.brokers[0]}`, () => secureHealthy(endpoint), {
      timeoutMs: 90_000,
      intervalMs: 500,
      alive: [d],
      logPath,
    });
    return endpoint;
  },
  healthy: secureHealthy,
};
