/**
 * Redis (AOF on) restarted during a burst through the real gateway and processor processes: a restart (SIGTERM,
 * appendfsync everysec, as production runs it) and a crash (SIGKILL, appendfsync always). While Redis is away the
 * gateway refuses with 503 and the processor retries with backoff; after it is back nothing is oversold, no order
 * answered 202 is lost, and processing resumes by itself. Uses a redis-server of its own, never the shared one.
 * (processor/test/processor-faults.test.ts covers a cut link to a Redis that keeps its data, and the DLQ redrive.)
 */
import type { RedisClient } from '@flashsale/common';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBooks, auditRun, openOrders, redisOf, StatusWatch } from '../support/audit.ts';
import { burst, steadyStream } from '../support/load.ts';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { recordFault } from '../support/report.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';
import { ThrowawayRedis } from '../support/throwaway-redis.ts';
import { eventually, freePort } from '../support/wait.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function scenario(kind: 'restart' | 'crash') {
  const server = new ThrowawayRedis({ appendfsync: kind === 'crash' ? 'always' : 'everysec' });
  cleanup.push(() => server.destroy());
  await server.start();
  const redis: RedisClient = redisOf(server.addr);
  cleanup.push(() => redis.disconnect());
  const brokers = requireService('kafka').brokers;
  const sale = uniqueSale(kind === 'crash' ? 'fredisk' : 'fredisr');
  const items = { shoe: 120, sock: 120 };
  await prepareSale({ redis, brokers, sale, items, partitions: 2 });
  const watch = await new StatusWatch(server.addr, sale).start();
  cleanup.push(() => watch.close());
  const env = saleProcEnv(sale, server.addr, brokers);
  const procs: Proc[] = await Promise.all([
    startGateway({ ...env, REDIS_COMMAND_TIMEOUT: '1s', HEALTH_CHECK_TIMEOUT: '500ms' }),
    startProcessor({
      ...env,
      PAYMENT_FAILURE_RATE: '0.1',
      HOLD_TTL: '60s',
      // retries outlast the outage (a longer one dead-letters redis_failure for the redrive: processor-faults.test)
      REDIS_RETRY_ATTEMPTS: '30',
      REDIS_RETRY_BASE: '100ms',
      REDIS_RETRY_MAX: '1s',
      REDIS_COMMAND_TIMEOUT: '1s',
    }),
  ]);
  cleanup.push(() => Promise.all(procs.map((p) => p.kill())).then(() => undefined));
  const [gw, p] = procs as [Proc, Proc];

  const stream = steadyStream(gw.url, { items: ['sock', 'shoe'], clients: 3, paceMs: 30, timeoutMs: 5000 });
  const { log } = stream;
  let inFlight = 0;
  let backAt = 0;
  let downMs = 0;
  try {
    await eventually('a steady stream of accepted orders', () => log.accepted.size >= 30, 30_000, 50);
    inFlight = await openOrders(redis, sale, log.accepted);
    const downAt = Date.now();
    if (kind === 'crash') await server.kill();
    else await server.stop();
    // away until the clients feel it
    await eventually(
      'a request refused while Redis is away',
      () => log.answers.some((a) => a.status !== 202 && a.at > downAt),
      15_000,
      50,
    );
    await server.start();
    backAt = Date.now();
    downMs = backAt - downAt;
    // accepted again by itself, and orders keep flowing
    const accepted = () => log.answers.filter((a) => a.status === 202 && a.at > backAt).length;
    await eventually('orders accepted again after Redis came back', () => accepted() >= 30, 30_000, 50).catch(
      () => undefined,
    );
  } finally {
    await stream.stop();
  }
  const firstOk = log.answers.find((a) => a.status === 202 && a.at > backAt);
  const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 45_000 });
  const refusedWhileDown = log.answers.filter((a) => a.status !== 202 && a.at >= backAt - downMs - 200);
  await recordFault(
    {
      scenario: kind === 'crash' ? 'redis-crash-aof-always' : 'redis-restart-aof',
      fault:
        kind === 'crash'
          ? 'Redis SIGKILLed mid-burst (appendfsync always), restarted from its AOF'
          : 'Redis restarted mid-burst (SIGTERM, appendfsync everysec), restarted from its AOF',
      faults: 1,
      inFlight,
      recoveryMs: firstOk ? firstOk.at - backAt : null,
      recoveryOf: 'Redis answering again -> first 202',
      refused: Object.fromEntries(Object.entries(log.byStatus()).filter(([s]) => s !== '202')),
      notes:
        `Redis away ${(downMs / 1000).toFixed(1)} s; ${refusedWhileDown.length} requests refused around the outage ` +
        `(no 202 without the order in Redis and Kafka); final statuses ${JSON.stringify(audit.statuses)}; ` +
        `${audit.confirmedWithout202} confirmed without a 202.`,
      test: 'e2e/faults/redis-restart.test.ts',
    },
    audit,
  );
  assertBooks(audit);
  expect(firstOk, `no 202 after Redis came back:\n${gw.tail()}`).toBeDefined();
  expect(log.count((a) => a.status >= 200 && a.status < 300 && a.status !== 202)).toBe(0);
  // refusals are 503 (Redis or broker unavailable) or a sale answer (sold out), never another 5xx
  expect(log.count((a) => a.status >= 500 && a.status !== 503)).toBe(0);
  expect(p.alive, `processor exited:\n${p.tail()}`).toBe(true);
  expect(gw.alive, `gateway exited:\n${gw.tail()}`).toBe(true);
  expect(audit.held).toBe(0);
}

describe('Redis restarted during a burst', () => {
  it('restart (SIGTERM, AOF everysec): 0 oversold, 0 lost, resumes by itself', () => scenario('restart'), 100_000);
  it('crash (SIGKILL, AOF always): 0 oversold, 0 lost, resumes by itself', () => scenario('crash'), 100_000);
});

describe('Redis not there yet when the gateway starts', () => {
  it('the gateway listens anyway: alive, not ready, orders refused with 503; then takes orders once Redis answers', async () => {
    // a port where nothing listens yet (a pod started before its Redis: the kubelet restarted a gateway that never
    // answered /livez until its start-up probe gave up)
    const server = new ThrowawayRedis();
    server.port = await freePort();
    cleanup.push(() => server.destroy());
    const brokers = requireService('kafka').brokers;
    const sale = uniqueSale('fredis-late');
    const gw = await startGateway({ ...saleProcEnv(sale, server.addr, brokers), REDIS_COMMAND_TIMEOUT: '1s' });
    cleanup.push(() => gw.kill());
    expect((await fetch(`${gw.url}/ready`)).status).toBe(503);
    const early = await burst(gw.url, { items: ['lamp'], total: 2, concurrency: 1 });
    expect(early.byStatus()).toEqual({ 503: 2 });
    expect(gw.output).toContain('"sale_state_unavailable"');

    await server.start();
    const redis = redisOf(server.addr);
    cleanup.push(() => redis.disconnect());
    await prepareSale({ redis, brokers, sale, items: { lamp: 2 }, partitions: 1 });
    await gw.waitHealthy('/ready', 30_000);
    const log = await burst(gw.url, { items: ['lamp'], total: 2, concurrency: 1 });
    expect(log.accepted.size, `gateway:\n${gw.tail()}`).toBe(2);
    expect(gw.alive).toBe(true);
  }, 90_000);
});
