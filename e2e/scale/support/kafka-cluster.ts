/**
 * A three-broker KRaft Kafka (combined roles, static voters) that one test file owns, so it may SIGKILL a broker and
 * start it again (same data) without disturbing the harness's shared `kafka3`. Uses the jars the harness installed;
 * listens on loopback ports below 32768 (outside the kernel's ephemeral range and the harness defaults).
 *
 * Tuned for fault tests: a dead broker is fenced (and leaves every ISR) after `broker.session.timeout.ms` = 2 s
 * instead of 9 s; every topic defaults to replication factor 3 and `min.insync.replicas` = 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { binPaths } from '../../../tools/harness/src/paths.ts';

/** Ports the harness uses by default (never taken here). */
const HARNESS_PORTS = new Set([16379, 16389, 16443, 12379, 12380, 19090, 19092, 19093, 19094, 19095]);

function reserved(port: number): boolean {
  return HARNESS_PORTS.has(port) || (port >= 17001 && port <= 17006) || (port >= 19192 && port <= 19394);
}

async function portFree(port: number): Promise<boolean> {
  const srv = createServer();
  try {
    srv.listen(port, '127.0.0.1');
    await once(srv, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    if (srv.listening) {
      srv.close();
      await once(srv, 'close');
    }
  }
}

/** `count` free loopback ports in 20000-31999 (random start, skipping the harness defaults and taken ports). */
async function freeLowPorts(count: number): Promise<number[]> {
  const out: number[] = [];
  let p = 20_000 + Math.floor(Math.random() * 11_000);
  for (let tries = 0; out.length < count && tries < 2000; tries++, p = p >= 31_999 ? 20_000 : p + 1) {
    if (!reserved(p) && (await portFree(p))) out.push(p);
  }
  if (out.length < count) throw new Error('no free loopback ports in 20000-31999');
  return out;
}

interface Node {
  id: number;
  broker: number;
  controller: number;
  config: string;
  proc?: ChildProcess | undefined;
}

/**
 * A cluster id as Kafka's own Uuid.randomUuid makes it: 16 random bytes in base64url, never starting with '-'. The
 * storage tool reads `-t -abc` as a flag without its value and exits 1 (one id in 64 did; a CI run met one).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class KafkaCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'fse-kafka3-'));
  readonly nodes: Node[] = [];
  private readonly heap: string;

  constructor(heap = '320m') {
    this.heap = heap;
  }

  get brokers(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.broker}`);
  }

  brokerOf(id: number): string {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no broker ${id}`);
    return `127.0.0.1:${n.broker}`;
  }

  private java(mainClass: string, args: string[], heap: string): [string, string[]] {
    if (!existsSync(binPaths.kafkaLibs)) {
      throw new Error(`Kafka jars missing at ${binPaths.kafkaLibs}: run "node tools/harness/src/cli.ts install kafka"`);
    }
    return [
      'java',
      [
        `-Xmx${heap}`,
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Djava.awt.headless=true',
        `-Dlog4j.configuration=file:${join(this.dir, 'log4j.properties')}`,
        '-cp',
        `${binPaths.kafkaLibs}/*`,
        mainClass,
        ...args,
      ],
    ];
  }

  private run(cmd: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const p = spawn(cmd, args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-2000);
      });
      p.on('error', reject);
      p.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${cmd} ${args.slice(-5).join(' ')} exited with ${code}: ${stderr}`)),
      );
    });
  }

  private async format(): Promise<void> {
    const ports = await freeLowPorts(6);
    for (let i = 0; i < 3; i++) {
      this.nodes.push({ id: i + 1, broker: ports[2 * i]!, controller: ports[2 * i + 1]!, config: '' });
    }
    writeFileSync(
      join(this.dir, 'log4j.properties'),
      'log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\n' +
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n',
    );
    const voters = this.nodes.map((n) => `${n.id}@127.0.0.1:${n.controller}`).join(',');
    for (const n of this.nodes) {
      const dir = join(this.dir, `node-${n.id}`);
      mkdirSync(dir, { recursive: true });
      n.config = join(dir, 'server.properties');
      writeFileSync(
        n.config,
        [
          'process.roles=broker,controller',
          `node.id=${n.id}`,
          `controller.quorum.voters=${voters}`,
          `listeners=PLAINTEXT://127.0.0.1:${n.broker},CONTROLLER://127.0.0.1:${n.controller}`,
          `advertised.listeners=PLAINTEXT://127.0.0.1:${n.broker}`,
          'controller.listener.names=CONTROLLER',
          'inter.broker.listener.name=PLAINTEXT',
          'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          `log.dirs=${join(dir, 'data')}`,
          'default.replication.factor=3',
          'min.insync.replicas=2',
          'offsets.topic.replication.factor=3',
          'offsets.topic.num.partitions=3',
          'transaction.state.log.replication.factor=3',
          'transaction.state.log.min.isr=2',
          'transaction.state.log.num.partitions=1',
          'group.initial.rebalance.delay.ms=0',
          'auto.create.topics.enable=false',
          // a dead broker is fenced (and removed from every ISR) after 2 s
          'broker.heartbeat.interval.ms=400',
          'broker.session.timeout.ms=2000',
          'replica.lag.time.max.ms=5000',
          'log.segment.bytes=16777216',
          '',
        ].join('\n'),
      );
    }
    const clusterId = newClusterId();
    await Promise.all(
      this.nodes.map((n) =>
        this.run(...this.java('kafka.tools.StorageTool', ['format', '-t', clusterId, '-c', n.config], '128m')),
      ),
    );
  }

  /** Format (first time) and start every broker; resolves when the cluster shows three brokers. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.nodes.length === 0) await this.format();
    for (const n of this.nodes) if (!this.alive(n.id)) this.spawn(n);
    await this.waitBrokers(3, timeoutMs);
  }

  private spawn(n: Node): void {
    n.proc = spawn(...this.java('kafka.Kafka', [n.config], this.heap), { cwd: this.dir, stdio: 'ignore' });
  }

  alive(id: number): boolean {
    const p = this.nodes.find((x) => x.id === id)?.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** SIGKILL one broker (a crash: no controlled shutdown) and wait until the process is gone. */
  async kill(id: number): Promise<void> {
    const n = this.nodes.find((x) => x.id === id);
    const p = n?.proc;
    if (!p || !this.alive(id)) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  }

  /** Start a killed broker again on its old data; resolves when the cluster shows three brokers again. */
  async restart(id: number, timeoutMs = 90_000): Promise<void> {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no broker ${id}`);
    if (!this.alive(id)) this.spawn(n);
    // the survivors may still list it (not fenced yet): ask the restarted broker itself
    await this.waitBrokers(3, timeoutMs, [`127.0.0.1:${n.broker}`]);
  }

  async waitBrokers(count: number, timeoutMs: number, via?: string[]): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      for (const n of this.nodes) {
        if (n.proc && n.proc.exitCode !== null && n.proc.signalCode === null) {
          throw new Error(`broker ${n.id} exited with ${n.proc.exitCode} (logs: ${this.dir})`);
        }
      }
      if ((await this.brokerCount(via)) >= count) return;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`the three-broker Kafka did not show ${count} brokers within ${timeoutMs} ms`);
  }

  private async brokerCount(via?: string[]): Promise<number> {
    const live = via ?? this.nodes.filter((n) => this.alive(n.id)).map((n) => `127.0.0.1:${n.broker}`);
    if (live.length === 0) return 0;
    const admin = new Kafka({
      clientId: 'fse-kafka3-probe',
      brokers: live,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      return (await admin.describeCluster()).brokers.length;
    } catch {
      return 0;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /** Kill every broker and remove the data. */
  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
