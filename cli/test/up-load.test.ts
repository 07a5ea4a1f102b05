/**
 * `flashsale up` end to end as child processes over the real Redis and Kafka: a small sale, a load run much larger
 * than the stock, and its counts checked against Redis and the topics independently of the CLI's own audit.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditSale, createRedis, parseAddrList, type RedisClient, topics } from '@flashsale/common';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService } from '../../e2e/support/services.ts';
import { freePort, freePortRun } from '../../e2e/support/wait.ts';
import type { LoadReport } from '../src/load/report.ts';
import { exitOf, FLASHSALE, runCli, startCli } from './support.ts';

const { Kafka, logLevel } = kafkajs;

const sale = `t-${randomUUID().slice(0, 8)}`;
const manifest = (name: string) => `# test sale
apiVersion: flashsale.dev/v1alpha1
kind: FlashSale
metadata: { name: ${name} }
spec:
  startsAt: "2026-01-01T00:00:00Z"
  endsAt: "2026-01-01T01:00:00Z"
  items:
    - { id: hot, quantity: 120, perUserLimit: 1 }
    - { id: cold, quantity: 180, perUserLimit: 2 }
  redis: { addr: "redis.invalid:6379" }
  kafka: { brokers: "kafka.invalid:9092" }
  topics: { partitions: 2 }
  processor:
    holdTtl: 30s
    payment: { failureRate: 0.1, minLatency: 1ms, maxLatency: 10ms }
`;

describe('flashsale up + load', () => {
  let redis: { addr: string };
  let brokers: string[];
  let up: Awaited<ReturnType<typeof startCli>>;
  let r: RedisClient;
  let logDir: string;

  beforeAll(async () => {
    redis = requireService('redis');
    brokers = requireService('kafka').brokers;
    // two processors listen on metricsPort and metricsPort + 1
    const metricsPort = await freePortRun(2);
    const dir = await mkdtemp(join(tmpdir(), 'fs-up-'));
    logDir = join(dir, 'logs');
    const file = join(dir, 'sale.yaml');
    await writeFile(file, manifest(sale));
    up = await startCli([
      'up',
      '-f',
      file,
      '--now',
      '--redis',
      redis.addr,
      '--kafka',
      brokers.join(','),
      '--port',
      String(await freePort()),
      '--metrics-port',
      String(metricsPort),
      '--processors',
      '2',
      '--log-dir',
      logDir,
      '--delete-on-exit',
      '-o',
      'json',
    ]);
    r = createRedis({ mode: 'single', nodes: parseAddrList(redis.addr) });
  }, 120_000);

  afterAll(async () => {
    if (up?.child.exitCode === null) up.child.kill('SIGKILL');
    r?.disconnect();
  });

  it('seeds the manifest, answers on the gateway and reports ready with two processors', async () => {
    expect(up.ready.sale).toBe(sale);
    expect(up.ready.processorMetricsUrls).toHaveLength(2);
    const audit = await auditSale(r, sale);
    expect(audit.map((a) => [a.itemId, a.initial]).sort()).toEqual([
      ['cold', 180],
      ['hot', 120],
    ]);
  });

  it('sells exactly the stock under 5x demand; the load report agrees with Redis and the order topic', async () => {
    const res = await runCli(
      FLASHSALE,
      [
        'load',
        '--url',
        String(up.ready.gatewayUrl),
        '--sale',
        sale,
        '--redis',
        redis.addr,
        '--kafka',
        brokers.join(','),
        '--users',
        '600',
        '--attempts',
        '1500',
        '--ramp',
        '0.5',
        '--concurrency',
        '64',
        '--retry-share',
        '0.2',
        '--bot-share',
        '0.02',
        '--sse-share',
        '0.05',
        '--settle',
        '40',
        '--no-progress',
        '-o',
        'json',
      ],
      { timeoutMs: 58_000 },
    );
    expect(res.stderr).not.toMatch(/Error/);
    const report = JSON.parse(res.stdout) as LoadReport;
    expect(res.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.oversold).toBe(0);
    expect(report.lost).toBe(0);
    expect(report.attempts).toBe(1500);
    expect(report.transportErrors).toBe(0);

    // independently of the CLI: Redis ...
    const audit = await auditSale(r, sale);
    const confirmed = audit.reduce((n, a) => n + a.confirmed, 0);
    const held = audit.reduce((n, a) => n + a.held, 0);
    for (const a of audit) {
      expect(a.drift).toBe(0);
      expect(a.confirmed + a.held).toBeLessThanOrEqual(a.initial);
    }
    // 5x demand sells everything, except units a failed payment returned after the crowd had gone
    const remaining = audit.reduce((n, a) => n + a.remaining, 0);
    expect(confirmed + held + remaining).toBe(300);
    expect(remaining).toBeLessThanOrEqual(report.verification.finalStatuses.PAYMENT_FAILED ?? 0);
    // (how many come back after the crowd depends on timing: 10 % of ~330 payments fail, and a faster crowd leaves
    // sooner; the bound is the failures themselves, plus a floor no working sale falls under at 5x demand)
    const failedPayments = report.verification.finalStatuses.PAYMENT_FAILED ?? 0;
    expect(confirmed + held).toBeGreaterThanOrEqual(300 - failedPayments);
    expect(confirmed + held).toBeGreaterThan(200);
    expect(report.verification.units.confirmed).toBe(confirmed);
    expect(report.confirmed).toBe(report.verification.confirmedThisRun);
    expect(report.confirmed).toBe(confirmed);

    // ... and the topics: one message per accepted order, the DLQ holds the payment failures
    const admin = new Kafka({ clientId: 't', brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const size = async (t: string) =>
        (await admin.fetchTopicOffsets(t)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
      expect(await size(topics(sale).orders)).toBe(report.accepted);
      expect(await size(topics(sale).dlq)).toBe(report.dlq);
    } finally {
      await admin.disconnect();
    }
    const statuses = report.verification.finalStatuses;
    expect(Object.values(statuses).reduce((n, v) => n + v, 0)).toBe(report.accepted);
    expect(statuses.PAYMENT_FAILED ?? 0).toBe(report.dlq);
    if (remaining === 0) expect(report.soldOutAfterMs).not.toBeNull();
  }, 60_000);

  it('status shows the same totals (JSON, one refresh)', async () => {
    const res = await runCli(FLASHSALE, ['status', '--sale', sale, '--redis', redis.addr, '--no-watch', '-o', 'json']);
    expect(res.code).toBe(0);
    const s = JSON.parse(res.stdout) as {
      totals: { initial: number; sold: number; held: number; remaining: number; drift: number };
    };
    const audit = await auditSale(r, sale);
    expect(s.totals.initial).toBe(300);
    expect(s.totals.sold).toBe(audit.reduce((n, a) => n + a.confirmed, 0));
    expect(s.totals.held).toBe(audit.reduce((n, a) => n + a.held, 0));
    expect(s.totals.drift).toBe(0);
  });

  it('SIGINT drains the children, exits 0 and deletes the sale (--delete-on-exit)', async () => {
    up.child.kill('SIGINT');
    expect(await exitOf(up.child)).toBe(0);
    expect(await r.exists(`fs:{${sale}:hot}:stock`)).toBe(0);
    expect(existsSync(join(logDir, 'gateway.log'))).toBe(true);
  }, 60_000);
});
