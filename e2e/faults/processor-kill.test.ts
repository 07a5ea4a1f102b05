/**
 * Processors killed with SIGKILL in the middle of a burst through a real gateway: two processors in one group, one
 * of them killed three times (restarted each time, so the group rebalances under load every time), the other
 * running on. Ends with the audit: 0 oversold, 0 lost, none confirmed twice. (processor/test/processor-crash.test.ts
 * covers one SIGKILL of a lone processor fed straight from Kafka; this one goes through the gateway, with a group.)
 */
import type { RedisClient } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBooks, auditRun, openOrders, redisOf, StatusWatch } from '../support/audit.ts';
import { BurstLog, burst } from '../support/load.ts';
import { type Proc, startGateway, startProcessor } from '../support/procs.ts';
import { recordFault } from '../support/report.ts';
import { prepareSale, saleProcEnv, uniqueSale } from '../support/sale.ts';
import { requireService } from '../support/services.ts';

const sale = uniqueSale('fkill');
const items = { red: 45, green: 45, blue: 45 };
let redis: RedisClient;
let watch: StatusWatch;
const procs: Proc[] = [];

beforeAll(async () => {
  const r = requireService('redis');
  const k = requireService('kafka');
  redis = redisOf(r.addr);
  await prepareSale({ redis, brokers: k.brokers, sale, items, partitions: 4 });
  watch = await new StatusWatch(r.addr, sale).start();
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  watch?.close();
  redis?.disconnect();
});

describe('processor SIGKILL under load', () => {
  it('three SIGKILLs of one of two processors mid-burst: nothing oversold, lost or confirmed twice', async () => {
    const env = saleProcEnv(sale, requireService('redis').addr, requireService('kafka').brokers);
    const penv = {
      ...env,
      PAYMENT_FAILURE_RATE: '0.15',
      PAYMENT_TIMEOUT_SHARE: '0.3',
      PAYMENT_TIMEOUT: '200ms',
      PAYMENT_LATENCY_MIN: '20ms',
      PAYMENT_LATENCY_MAX: '120ms',
      PAYMENT_CONCURRENCY: '6',
      HOLD_TTL: '60s',
    };
    const gw = await startGateway(env);
    procs.push(gw);
    const stable = await startProcessor(penv);
    let victim = await startProcessor(penv);
    procs.push(stable, victim);

    const log = new BurstLog();
    const t0 = Date.now();
    let kills = 0;
    let inFlight = -1;
    let lastKillAt = 0;
    const killAt = new Set([90, 210, 330]);
    let chain = Promise.resolve();
    await burst(gw.url, {
      items: Object.keys(items),
      total: 450,
      concurrency: 6,
      paceMs: 10,
      log,
      onAnswer: (n) => {
        if (!killAt.has(n)) return;
        // kill and restart in the background; the burst goes on
        chain = chain.then(async () => {
          if (inFlight < 0) inFlight = await openOrders(redis, sale, log.accepted);
          await victim.kill();
          kills++;
          lastKillAt = Date.now();
          victim = await startProcessor(penv, { wait: false });
          procs.push(victim);
        });
      },
    });
    await chain;
    const burstMs = Date.now() - t0;
    expect(kills).toBe(3);
    await victim.waitHealthy('/health');

    const audit = await auditRun({ redis, sale, accepted: log.accepted, watch, waitFinalMs: 50_000 });
    const recoveryMs = Date.now() - lastKillAt;
    await recordFault(
      {
        scenario: 'processor-sigkill',
        fault: '3 x SIGKILL of one of two processors (restarted each time)',
        faults: kills,
        inFlight,
        recoveryMs,
        recoveryOf: 'last kill -> every accepted order final',
        refused: Object.fromEntries(Object.entries(log.byStatus()).filter(([s]) => s !== '202')),
        notes:
          `450 orders for ${Object.values(items).reduce((a, b) => a + b)} units through the gateway, 15% failed ` +
          `payments (30% of them timeouts); final statuses of the accepted orders: ${JSON.stringify(audit.statuses)}; ` +
          `${audit.confirmTransitions} CONFIRMED transitions seen on the status channel; burst ${(burstMs / 1000).toFixed(1)} s.`,
        test: 'e2e/faults/processor-kill.test.ts',
      },
      audit,
    );
    assertBooks(audit);
    expect(audit.accepted).toBeGreaterThan(150);
    expect(audit.confirmed).toBeGreaterThan(0);
    expect(audit.held).toBe(0);
    // every answer was a 202 or a clean refusal (sold out), never a 5xx
    expect(log.count((a) => a.status >= 500 || a.status === 0)).toBe(0);
    expect(stable.alive).toBe(true);
  }, 110_000);
});
