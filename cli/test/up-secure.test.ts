/**
 * The CLI over the harness's secured services: Redis with TLS and an ACL user (`redisTls`) and Kafka whose only
 * listener is SASL_SSL with SCRAM (`kafkaSecure`). The credentials travel as the gateway and processor take them
 * (REDIS_USERNAME, REDIS_PASSWORD, KAFKA_USERNAME, KAFKA_PASSWORD, the mechanism from spec.kafka.sasl) or in a password
 * file, never as a flag's value. `flashsale up` seeds and runs the sale, `load` sells with 0 oversold and 0 lost,
 * `status` and `dlq list` read it, and a wrong password fails with exit 1, a message naming the variables and no
 * secret anywhere in the output.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditSale, createRedis, parseAddrList, type RedisClient, topics } from '@flashsale/common';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService } from '../../e2e/support/services.ts';
import { freePort, freePortRun } from '../../e2e/support/wait.ts';
import { EXIT } from '../src/exit.ts';
import type { LoadReport } from '../src/load/report.ts';
import { sessionDir } from '../src/session.ts';
import { exitOf, FLASHSALE, runCli, startCli } from './support.ts';

const { Kafka, logLevel } = kafkajs;

const sale = `t-${randomUUID().slice(0, 8)}`;
const manifest = (name: string) => `apiVersion: flashsale.dev/v1alpha1
kind: FlashSale
metadata: { name: ${name} }
spec:
  startsAt: "2026-01-01T00:00:00Z"
  endsAt: "2026-01-01T01:00:00Z"
  items:
    - { id: hot, quantity: 40, perUserLimit: 1 }
    - { id: cold, quantity: 60, perUserLimit: 2 }
  redis:
    addr: "redis.invalid:6379"
    usernameSecretRef: { name: redis-auth, key: username }
    passwordSecretRef: { name: redis-auth, key: password }
    tls: { enabled: true, caSecretRef: { name: redis-ca, key: ca.crt } }
  kafka:
    brokers: "kafka.invalid:9093"
    sasl:
      mechanism: scram-sha-512
      usernameSecretRef: { name: kafka-auth, key: username }
      passwordSecretRef: { name: kafka-auth, key: password }
    tls: { enabled: true, caSecretRef: { name: kafka-ca, key: ca.crt } }
  topics: { partitions: 2 }
  processor:
    holdTtl: 30s
    payment: { failureRate: 0.1, minLatency: 1ms, maxLatency: 10ms }
`;

/** Every secret the test knows, including the wrong ones it passes: none may be printed. */
const secretsIn = (text: string, secrets: string[]) => secrets.filter((s) => text.includes(s));

describe('flashsale up, load, status, dlq over Redis ACL+TLS and Kafka SASL_SSL (SCRAM)', () => {
  let rs: NonNullable<ReturnType<typeof requireService<'redisTls'>>>;
  let ks: NonNullable<ReturnType<typeof requireService<'kafkaSecure'>>>;
  let up: Awaited<ReturnType<typeof startCli>>;
  let r: RedisClient;
  let dir: string;
  let logDir: string;
  let kafkaPasswordFile: string;
  let file: string;
  /** the credentials as a user exports them; Kafka's password comes from a file */
  let env: Record<string, string>;
  const wrong = `wrong-${randomUUID().slice(0, 12)}`;
  let secrets: string[];

  beforeAll(async () => {
    rs = requireService('redisTls');
    ks = requireService('kafkaSecure');
    secrets = [rs.password, ks.password, wrong];
    dir = await mkdtemp(join(tmpdir(), 'fs-up-secure-'));
    logDir = join(dir, 'logs');
    file = join(dir, 'sale.yaml');
    kafkaPasswordFile = join(dir, 'kafka-password');
    await writeFile(file, manifest(sale));
    await writeFile(kafkaPasswordFile, `${ks.password}\n`, { mode: 0o600 });
    env = { REDIS_USERNAME: rs.username, REDIS_PASSWORD: rs.password, KAFKA_USERNAME: ks.username };
    const metricsPort = await freePortRun(2); // processors 0 and 1
    up = await startCli(
      [
        'up',
        '-f',
        file,
        '--now',
        '--redis',
        rs.addr,
        '--kafka',
        ks.brokers.join(','),
        '--redis-ca',
        rs.ca,
        '--kafka-ca',
        ks.ca,
        '--kafka-password-file',
        kafkaPasswordFile,
        '--port',
        String(await freePort()),
        '--metrics-port',
        String(metricsPort),
        '--processors',
        '2',
        '--log-dir',
        logDir,
        '--log-level',
        'debug',
        '--delete-on-exit',
        '-o',
        'json',
      ],
      90_000,
      env,
    );
    r = createRedis({
      mode: 'single',
      nodes: parseAddrList(rs.addr),
      username: rs.username,
      password: rs.password,
      tls: { enabled: true, ca: readFileSync(rs.ca, 'utf8'), insecureSkipVerify: false },
    });
    r.on('error', () => undefined);
  }, 120_000);

  afterAll(async () => {
    if (up?.child.exitCode === null) up.child.kill('SIGKILL');
    r?.disconnect();
  });

  it('seeds the sale on the secured Redis and runs gateway and processors with the credentials', async () => {
    expect(up.ready.sale).toBe(sale);
    expect(up.ready.processorMetricsUrls).toHaveLength(2);
    expect(up.ready.tls).toEqual({
      redis: { enabled: true, caFile: rs.ca, insecureSkipVerify: false },
      kafka: { enabled: true, caFile: ks.ca, insecureSkipVerify: false },
    });
    const audit = await auditSale(r, sale);
    expect(audit.map((a) => [a.itemId, a.initial]).sort()).toEqual([
      ['cold', 60],
      ['hot', 40],
    ]);
    // the session file other commands read records trust, never a secret
    expect(secretsIn(readFileSync(join(sessionDir(), `${sale}.json`), 'utf8'), secrets)).toEqual([]);
  });

  it('load sells under 3x demand with 0 oversold and 0 lost (TLS from the session, credentials from env)', async () => {
    const res = await runCli(
      FLASHSALE,
      [
        'load',
        '--sale',
        sale,
        '--users',
        '200',
        '--attempts',
        '300',
        '--ramp',
        '0.3',
        '--concurrency',
        '32',
        '--settle',
        '30',
        '--no-progress',
        '-o',
        'json',
      ],
      { timeoutMs: 58_000, env: { ...env, KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_PASSWORD: ks.password } },
    );
    expect(secretsIn(res.stdout + res.stderr, secrets)).toEqual([]);
    const report = JSON.parse(res.stdout) as LoadReport;
    expect(res.code).toBe(EXIT.ok);
    expect(report.ok).toBe(true);
    expect(report.oversold).toBe(0);
    expect(report.lost).toBe(0);
    expect(report.transportErrors).toBe(0);
    // independently: Redis and the order topic over the secured connections
    const audit = await auditSale(r, sale);
    const confirmed = audit.reduce((n, a) => n + a.confirmed, 0);
    for (const a of audit) {
      expect(a.drift).toBe(0);
      expect(a.confirmed + a.held).toBeLessThanOrEqual(a.initial);
    }
    expect(confirmed).toBeGreaterThan(0);
    expect(report.confirmed).toBe(confirmed);
    const admin = new Kafka({
      clientId: 't',
      brokers: ks.brokers,
      ssl: { ca: [readFileSync(ks.ca, 'utf8')] },
      sasl: { mechanism: 'scram-sha-512', username: ks.username, password: ks.password },
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topics(sale).orders);
      expect(offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)).toBe(report.accepted);
    } finally {
      await admin.disconnect();
    }
  }, 60_000);

  it('status reads the secured Redis (explicit --redis-ca, password from a file)', async () => {
    const pw = join(dir, 'redis-password');
    await writeFile(pw, rs.password, { mode: 0o600 });
    const res = await runCli(
      FLASHSALE,
      [
        'status',
        '--sale',
        sale,
        '--redis',
        rs.addr,
        '--redis-ca',
        rs.ca,
        '--redis-password-file',
        pw,
        '--no-watch',
        '-o',
        'json',
      ],
      { env: { REDIS_USERNAME: rs.username } },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(EXIT.ok);
    const s = JSON.parse(res.stdout) as { totals: { initial: number; sold: number; drift: number } };
    expect(s.totals.initial).toBe(100);
    expect(s.totals.sold).toBe((await auditSale(r, sale)).reduce((n, a) => n + a.confirmed, 0));
    expect(s.totals.drift).toBe(0);
    expect(secretsIn(res.stdout, secrets)).toEqual([]);
  });

  it('dlq list reads the secured Kafka (SASL from env, password file)', async () => {
    const res = await runCli(
      FLASHSALE,
      [
        'dlq',
        'list',
        '--sale',
        sale,
        '--kafka',
        ks.brokers.join(','),
        '--kafka-ca',
        ks.ca,
        '--kafka-password-file',
        kafkaPasswordFile,
        '--json',
      ],
      { env: { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_USERNAME: ks.username } },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(EXIT.ok);
    const s = JSON.parse(res.stdout) as { sale: string; total: number };
    expect(s.sale).toBe(sale);
    expect(s.total).toBeGreaterThanOrEqual(0);
    expect(secretsIn(res.stdout, secrets)).toEqual([]);
  });

  it('a wrong password fails with exit 1, names the variables and never prints a password', async () => {
    const status = await runCli(
      FLASHSALE,
      ['status', '--sale', sale, '--redis', rs.addr, '--redis-ca', rs.ca, '--no-watch', '-o', 'json'],
      { env: { REDIS_USERNAME: rs.username, REDIS_PASSWORD: wrong } },
    );
    expect(status.code).toBe(EXIT.failure);
    expect(status.stderr).toMatch(/Redis refused the credentials: check REDIS_USERNAME and REDIS_PASSWORD/);
    expect(status.stdout).toBe('');

    const dlq = await runCli(
      FLASHSALE,
      ['dlq', 'list', '--sale', sale, '--kafka', ks.brokers.join(','), '--kafka-ca', ks.ca, '--json'],
      { env: { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_USERNAME: ks.username, KAFKA_PASSWORD: wrong } },
    );
    expect(dlq.code).toBe(EXIT.failure);
    expect(dlq.stderr).toMatch(/Kafka refused the SASL credentials: check KAFKA_SASL_MECHANISM, KAFKA_USERNAME/);

    const other = `t-${randomUUID().slice(0, 8)}`;
    const upWrong = await runCli(
      FLASHSALE,
      ['up', '-f', file, '--sale', other, '--redis', rs.addr, '--kafka', ks.brokers.join(',')],
      {
        env: {
          REDIS_USERNAME: rs.username,
          REDIS_PASSWORD: wrong,
          KAFKA_USERNAME: ks.username,
          KAFKA_PASSWORD: ks.password,
          REDIS_TLS_CA_FILE: rs.ca,
          KAFKA_TLS_CA_FILE: ks.ca,
        },
      },
    );
    expect(upWrong.code).toBe(EXIT.failure);
    expect(upWrong.stderr).toMatch(/cannot reach Redis at .*REDIS_PASSWORD/);
    for (const res of [status, dlq, upWrong]) expect(secretsIn(res.stdout + res.stderr, secrets)).toEqual([]);
  }, 60_000);

  it('bad credential settings are usage errors (exit 2) naming the variable', async () => {
    const mech = await runCli(FLASHSALE, ['dlq', 'list', '--sale', sale, '--kafka', ks.brokers.join(',')], {
      env: { KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_USERNAME: ks.username, KAFKA_PASSWORD: wrong },
    });
    expect(mech.code).toBe(EXIT.usage);
    expect(mech.stderr).toMatch(/KAFKA_SASL_MECHANISM: .*scram-sha-512/);
    const noPassword = await runCli(
      FLASHSALE,
      ['status', '--sale', sale, '--redis', rs.addr, '--redis-ca', rs.ca, '--no-watch'],
      { env: { REDIS_USERNAME: rs.username } },
    );
    expect(noPassword.code).toBe(EXIT.usage);
    expect(noPassword.stderr).toMatch(/REDIS_PASSWORD: required with REDIS_USERNAME/);
    const noKafkaUser = await runCli(
      FLASHSALE,
      ['up', '-f', file, '--redis', rs.addr, '--kafka', ks.brokers.join(','), '--redis-ca', rs.ca, '--kafka-ca', ks.ca],
      { env: { REDIS_USERNAME: rs.username, REDIS_PASSWORD: wrong } },
    );
    expect(noKafkaUser.code).toBe(EXIT.usage);
    expect(noKafkaUser.stderr).toMatch(/KAFKA_USERNAME: required with KAFKA_SASL_MECHANISM=scram-sha-512/);
    for (const res of [mech, noPassword, noKafkaUser]) expect(secretsIn(res.stdout + res.stderr, secrets)).toEqual([]);
  });

  it('SIGINT drains, exits 0 and deletes the sale over the secured connections; no secret in any log', async () => {
    up.child.kill('SIGINT');
    expect(await exitOf(up.child)).toBe(0);
    expect(await r.exists(`fs:{${sale}:hot}:stock`)).toBe(0);
    expect(secretsIn(up.output(), secrets)).toEqual([]);
    const logs = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8'));
    expect(logs.length).toBeGreaterThanOrEqual(3);
    for (const text of logs) expect(secretsIn(text, secrets)).toEqual([]);
  }, 60_000);
});
