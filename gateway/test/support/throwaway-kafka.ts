/**
 * A single-node Kafka this test file owns, so it can be stopped and started again (same data) without
 * disturbing the shared broker other test files use. Uses the jars the harness installed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from '../../../e2e/support/wait.ts';
import { binPaths } from '../../../tools/harness/src/paths.ts';

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

export class ThrowawayKafka {
  readonly dir = mkdtempSync(join(tmpdir(), 'gw-kafka-'));
  port = 0;
  private proc: ChildProcess | undefined;
  private config = '';

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  private java(mainClass: string, args: string[], heap = '384m'): [string, string[]] {
    if (!existsSync(binPaths.kafkaLibs)) {
      throw new Error(`Kafka jars missing at ${binPaths.kafkaLibs}: run "node tools/harness/src/cli.ts install kafka"`);
    }
    const log4j = join(this.dir, 'log4j.properties');
    return [
      'java',
      [
        `-Xmx${heap}`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        `-Dlog4j.configuration=file:${log4j}`,
        '-cp',
        `${binPaths.kafkaLibs}/*`,
        mainClass,
        ...args,
      ],
    ];
  }

  async format(): Promise<void> {
    this.port = await freePort();
    const controller = await freePort();
    writeFileSync(
      join(this.dir, 'log4j.properties'),
      'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n',
    );
    this.config = join(this.dir, 'server.properties');
    writeFileSync(
      this.config,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controller}`,
        `listeners=PLAINTEXT://127.0.0.1:${this.port},CONTROLLER://127.0.0.1:${controller}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${this.port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        `log.dirs=${join(this.dir, 'data')}`,
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'transaction.state.log.num.partitions=1',
        'group.initial.rebalance.delay.ms=0',
        'auto.create.topics.enable=false',
        '',
      ].join('\n'),
    );
    const clusterId = randomBytes(16).toString('base64url');
    await run(
      ...this.java('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', this.config], '128m'),
      this.dir,
    );
  }

  async start(timeoutMs = 40_000): Promise<void> {
    if (!this.config) await this.format();
    const [cmd, args] = this.java('kafka.Kafka', [this.config]);
    this.proc = spawn(cmd, args, { cwd: this.dir, stdio: 'ignore' });
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.proc.exitCode !== null) throw new Error(`throwaway Kafka exited with ${this.proc.exitCode}`);
      if (await this.answers()) return;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`throwaway Kafka did not answer on ${this.port} within ${timeoutMs} ms`);
  }

  async answers(): Promise<boolean> {
    const admin = new Kafka({
      clientId: 'gw-test-probe',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 500,
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

  /** Kill the broker (as a crash would) and wait until the process is gone. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  }

  /** Stop the broker's process (SIGSTOP): connections stay open and nothing is answered, as with a hung leader. */
  freeze(): void {
    if (!this.proc || this.proc.exitCode !== null) throw new Error('throwaway Kafka is not running');
    this.proc.kill('SIGSTOP');
  }

  /** Let a frozen broker go on (SIGCONT). */
  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    this.thaw();
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
