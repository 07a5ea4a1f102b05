/** SIGTERM on the real process: in-flight orders finish, every 202 is in Kafka, exit code 0. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrdersTopic, readAllOrders, redisFor, seed, services, uniqueSale } from './helpers.ts';

const sale = uniqueSale('stop');
let redis: RedisClient;
let child: ChildProcess | undefined;

beforeAll(async () => {
  const s = services();
  redis = redisFor(s.redisAddr);
  await createOrdersTopic(s.brokers, sale);
  await seed(redis, sale, { tv: 100_000 });
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await redis?.quit();
});

describe('graceful shutdown', () => {
  it('drains in-flight orders on SIGTERM, loses none that got a 202, and exits 0', async () => {
    const s = services();
    child = spawn(process.execPath, [new URL('../src/main.ts', import.meta.url).pathname], {
      env: {
        ...process.env,
        SALE_NAME: sale,
        REDIS_ADDR: s.redisAddr,
        KAFKA_ADDR: s.brokers.join(','),
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        PRODUCER_LINGER: '20ms',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const events: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child!.stdout! });
      rl.on('line', (line) => {
        try {
          const l = JSON.parse(line) as { event?: string; address?: string };
          if (l.event) events.push(l.event);
          if (l.event === 'gateway_started' && l.address) resolve(l.address);
        } catch {
          // not JSON
        }
      });
      child!.once('exit', (code) => reject(new Error(`gateway exited early with ${code}`)));
    });

    const accepted: string[] = [];
    const outcomes: Record<string, number> = {};
    let first: () => void = () => {};
    const firstAnswer = new Promise<void>((r) => {
      first = r;
    });
    const send = async (i: number) => {
      try {
        const res = await fetch(`${url}/v1/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `k-${i}` },
          body: JSON.stringify({ user_id: `u-${i}`, item_id: 'tv', quantity: 1 }),
        });
        const body = (await res.json()) as { order_id?: string };
        if (res.status === 202 && body.order_id) accepted.push(body.order_id);
        outcomes[res.status] = (outcomes[res.status] ?? 0) + 1;
      } catch {
        outcomes.refused = (outcomes.refused ?? 0) + 1;
      } finally {
        first();
      }
    };
    const sends = Array.from({ length: 200 }, (_, i) => send(i));
    await firstAnswer;
    const exit = once(child, 'exit');
    const t0 = Date.now();
    child.kill('SIGTERM');
    // requests arriving while it drains are refused (503 or connection refused), never half-done
    for (let i = 200; i < 300; i++) sends.push(send(i));
    await Promise.all(sends);
    const [code] = await exit;
    process.stderr.write(`[shutdown] exit after ${Date.now() - t0} ms, outcomes ${JSON.stringify(outcomes)}\n`);
    expect(code).toBe(0);
    expect(events).toContain('shutdown_complete');
    expect(accepted.length).toBeGreaterThan(0);
    // every accepted order reached Kafka
    const msgs = await readAllOrders(s.brokers, sale, accepted.length);
    const inKafka = new Set(msgs.map((m) => m.value.order_id as string));
    expect(accepted.filter((id) => !inKafka.has(id))).toEqual([]);
    expect(outcomes[500] ?? 0).toBe(0);
  });

  it('refuses to start with a bad variable: names it on stderr and exits non-zero', async () => {
    const p = spawn(process.execPath, [new URL('../src/main.ts', import.meta.url).pathname], {
      env: { ...process.env, SALE_NAME: 'ok', PORT: 'eighty', RATE_LIMIT_WINDOW: 'soon' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr!.on('data', (c) => {
      stderr += String(c);
    });
    const [code] = await once(p, 'exit');
    expect(code).toBe(2);
    expect(stderr).toMatch(/PORT/);
    expect(stderr).toMatch(/RATE_LIMIT_WINDOW: "soon" is not a duration/);
  });
});
