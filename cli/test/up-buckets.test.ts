/**
 * `flashsale up` with a manifest whose hot item has `stockBuckets: 4`, as a child process over the real Redis and
 * Kafka: the item is seeded over 4 bucket keys (the same seedSpecItems as the operator), the sale starts, a load run
 * sells it with 0 oversold and 0 lost (the audit summed over the buckets), and a later
 * run of the same sale with another stockBuckets is refused with exit code 2 naming the item and the field, before
 * anything starts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  auditItemsOverBuckets,
  bucketCount,
  bucketKeys,
  bucketLevels,
  createRedis,
  deleteSaleKeys,
  deleteTopics,
  parseAddrList,
  type RedisClient,
} from '@flashsale/common';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireService } from '../../e2e/support/services.ts';
import { freePort, freePortRun } from '../../e2e/support/wait.ts';
import { EXIT } from '../src/exit.ts';
import { exitOf, FLASHSALE, runCli, startCli } from './support.ts';

const sale = `t-${randomUUID().slice(0, 8)}`;
const manifest = (hotBuckets: number) => `# bucketed test sale
apiVersion: flashsale.dev/v1alpha1
kind: FlashSale
metadata: { name: ${sale} }
spec:
  startsAt: "2026-01-01T00:00:00Z"
  endsAt: "2026-01-01T01:00:00Z"
  items:
    - { id: hot, quantity: 100, perUserLimit: 1, stockBuckets: ${hotBuckets} }
    - { id: cold, quantity: 30 }
  redis: { addr: "redis.invalid:6379" }
  kafka: { brokers: "kafka.invalid:9092" }
  topics: { partitions: 1 }
`;

describe('flashsale up with stock buckets', () => {
  let redis: { addr: string };
  let brokers: string[];
  let r: RedisClient;
  let dir: string;

  beforeAll(async () => {
    redis = requireService('redis');
    brokers = requireService('kafka').brokers;
    r = createRedis({ mode: 'single', nodes: parseAddrList(redis.addr) });
    dir = await mkdtemp(join(tmpdir(), 'fs-up-bk-'));
  });

  afterAll(async () => {
    await deleteSaleKeys(r, sale).catch(() => undefined);
    r?.disconnect();
    const admin = new kafkajs.Kafka({ brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    await deleteTopics(admin, sale).catch(() => undefined);
    await admin.disconnect();
  });

  const args = (file: string, metricsPort: number, port: number) => [
    'up',
    '-f',
    file,
    '--now',
    '--redis',
    redis.addr,
    '--kafka',
    brokers.join(','),
    '--port',
    String(port),
    '--metrics-port',
    String(metricsPort),
    '--processors',
    '1',
    '--log-dir',
    join(dir, 'logs'),
    '-o',
    'json',
  ];

  it('seeds the hot item over 4 buckets, starts the sale, and a load run sells it without oversell or loss', async () => {
    const file = join(dir, 'k4.yaml');
    await writeFile(file, manifest(4));
    const up = await startCli(args(file, await freePortRun(1), await freePort()));
    try {
      expect(up.ready.sale).toBe(sale);
      expect(await bucketCount(r, sale, 'hot')).toBe(4);
      expect(await bucketLevels(r, sale, 'hot', 4)).toEqual([25, 25, 25, 25]);
      for (let b = 1; b < 4; b++) expect(await r.get(bucketKeys(sale, 'hot', b).stock)).toBe('25');
      expect(await bucketCount(r, sale, 'cold')).toBe(1);
      const audit = await auditItemsOverBuckets(r, sale, ['hot', 'cold']);
      expect(audit.map((a) => [a.itemId, a.initial, a.remaining, a.drift])).toEqual([
        ['hot', 100, 100, 0],
        ['cold', 30, 30, 0],
      ]);
      // a crowd 3x the stock through the gateway and the (bucket-aware) processor; the CLI's audit sums the buckets
      const load = await runCli(
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
          '300',
          '--attempts',
          '400',
          '--concurrency',
          '32',
          '--settle',
          '30',
          '--no-progress',
          '-o',
          'json',
        ],
        { timeoutMs: 55_000 },
      );
      const report = JSON.parse(load.stdout) as { ok: boolean; oversold: number; lost: number; confirmed: number };
      expect(load.code).toBe(0);
      expect(report).toMatchObject({ ok: true, oversold: 0, lost: 0 });
      const after = await auditItemsOverBuckets(r, sale, ['hot', 'cold']);
      for (const a of after) {
        expect(a.drift).toBe(0);
        expect(a.confirmed + a.held).toBeLessThanOrEqual(a.initial);
      }
      const hot = after[0];
      // the crowd reaches the buckets: most of the hot item is sold or held
      expect((hot?.confirmed ?? 0) + (hot?.held ?? 0)).toBeGreaterThan(50);
      const levels = await bucketLevels(r, sale, 'hot', 4);
      expect(levels.reduce((n, x) => n + x, 0)).toBe(hot?.remaining);
      expect(report.confirmed).toBe(after.reduce((n, a) => n + a.confirmed, 0));
    } finally {
      up.child.kill('SIGTERM');
      expect(await exitOf(up.child)).toBe(0);
    }
  }, 110_000);

  it('refuses another stockBuckets for the seeded item with exit code 2, naming item and field', async () => {
    const file = join(dir, 'k2.yaml');
    await writeFile(file, manifest(2));
    const res = await runCli(FLASHSALE, args(file, await freePortRun(1), await freePort()), { timeoutMs: 30_000 });
    expect(res.code).toBe(EXIT.usage);
    expect(res.stderr).toMatch(/spec\.items\[hot\]\.stockBuckets: .*seeded over 4 stock bucket\(s\), not 2/);
    // nothing changed
    expect(await bucketCount(r, sale, 'hot')).toBe(4);
    expect((await auditItemsOverBuckets(r, sale, ['hot']))[0]?.initial).toBe(100);
  });
});
