/**
 * Crash safety: a processor process killed with SIGKILL in the middle of a run and started again changes none
 * of the counts (every order final once, 0 oversold, every failed payment restocked and dead-lettered), and
 * SIGTERM drains and exits 0 well within 30 s.
 */
import type { ChildProcess } from 'node:child_process';
import { type RedisClient, seedItem } from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../e2e/support/wait.ts';
import {
  checkConservation,
  expectFailedPaymentsDeadLettered,
  makeOrders,
  newRedis,
  processorEnv,
  produce,
  spawnProcessor as spawn,
  statuses,
  uniqueSale,
  waitAllFinal,
} from './support.ts';

let r: RedisClient;
const children: ChildProcess[] = [];
beforeAll(() => {
  r = newRedis();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  r.disconnect();
});

describe('processor crash and restart', () => {
  it('SIGKILL mid-run, then restart: counts unchanged, every order final once; SIGTERM drains fast', async () => {
    const sale = uniqueSale('crash');
    const items = ['red', 'green', 'blue'];
    for (const i of items) await seedItem(r, sale, i, 20);
    const env = processorEnv(sale, {
      PAYMENT_FAILURE_RATE: '0.2',
      PAYMENT_SEED: 'crash',
      PAYMENT_LATENCY_MIN: '50ms',
      PAYMENT_LATENCY_MAX: '250ms',
      PAYMENT_TIMEOUT: '300ms',
      PAYMENT_CONCURRENCY: '4',
      HOLD_TTL: '60s',
    });
    const orders = makeOrders(sale, items, 450);
    const first = spawn(env, children);
    await produce(sale, orders);

    // wait until some payments have landed but the run is not over, then pull the plug
    await eventually(
      'a run in progress',
      async () => {
        const s = [...(await statuses(r, sale, orders)).values()];
        return s.filter((v) => v === 'CONFIRMED').length >= 8 ? true : undefined;
      },
      30_000,
      20,
    );
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    expect(killed.signal).toBe('SIGKILL');
    const before = await statuses(r, sale, orders);
    const openAtKill = [...before.values()].filter((v) => v === 'RESERVED' || v === 'MISSING').length;
    expect(openAtKill).toBeGreaterThan(0); // really killed in the middle

    const second = spawn(env, children);
    const final = await waitAllFinal(r, sale, orders);
    const count = (s: string) => [...final.values()].filter((v) => v === s).length;
    // orders settled before the kill kept their outcome
    for (const [id, s] of before) if (s !== 'RESERVED' && s !== 'MISSING') expect(final.get(id)).toBe(s);

    const audits = await checkConservation(r, sale);
    const confirmedUnits = audits.reduce((n, a) => n + a.confirmed, 0);
    expect(confirmedUnits).toBe(count('CONFIRMED'));
    expect(confirmedUnits).toBeLessThanOrEqual(60);
    expect(audits.every((a) => a.held === 0)).toBe(true);
    expect(audits.reduce((n, a) => n + a.released, 0)).toBe(count('PAYMENT_FAILED'));
    expect(count('CONFIRMED') + count('SOLD_OUT') + count('PAYMENT_FAILED')).toBe(orders.length);

    await expectFailedPaymentsDeadLettered(sale, final);

    // SIGTERM: stop fetching, finish, commit, exit 0 well within 30 s
    second.child.kill('SIGTERM');
    const stopped = await second.exited;
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(30_000);
  });
});
