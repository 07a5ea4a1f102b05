/**
 * The inventory Lua scripts against the real Redis: many concurrent clients never oversell, replays change
 * nothing, per-user limits hold, and confirm / release / expire settle a hold exactly once.
 */
import {
  auditItem,
  confirm,
  expireHolds,
  itemKeys,
  markRefunded,
  PAID_AFTER_EXPIRY,
  type RedisClient,
  readOrder,
  release,
  reserve,
  reserveMany,
  seedItem,
  settleMany,
} from '@flashsale/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_BACKENDS, type RedisBackend, reserveInput, uniqueSale } from './support.ts';

let sale = '';
const clients: RedisClient[] = [];
let r: RedisClient;
let backend: RedisBackend;

// Every inventory script on the single Redis and on the Redis Cluster (the same tests, a connection factory each).
describe.each(REDIS_BACKENDS)('on $name Redis', (b) => {
  beforeAll(async () => {
    backend = b;
    sale = uniqueSale(`lua${b.name[0]}`);
    r = b.client();
    for (let i = 0; i < 8; i++) clients.push(b.client());
    await r.ping();
  });
  afterAll(async () => {
    for (const c of [r, ...clients.splice(0)]) c.disconnect();
  });

  describe('seed', () => {
    it('seeds once, then applies changes as deltas that never touch sold or held units', async () => {
      const item = 'seed1';
      expect(await seedItem(r, sale, item, 10)).toMatchObject({ outcome: 'seeded', initial: 10, remaining: 10 });
      expect(await seedItem(r, sale, item, 10)).toMatchObject({ outcome: 'unchanged', remaining: 10 });
      // 6 units leave stock: 3 confirmed, 3 held
      for (let i = 0; i < 6; i++) await reserve(r, sale, reserveInput(item, i, `u${i}`), 60_000);
      for (let i = 0; i < 3; i++) await confirm(r, sale, item, `${item}.o${i}`);
      expect(await seedItem(r, sale, item, 15)).toMatchObject({ outcome: 'restocked', initial: 15, remaining: 9 });
      // reduce to 2: only the 9 remaining can go, and not below 0
      expect(await seedItem(r, sale, item, 2)).toMatchObject({
        outcome: 'reduced',
        initial: 6,
        remaining: 0,
        applied: -9,
      });
      const a = await auditItem(r, sale, item);
      expect(a).toMatchObject({ initial: 6, remaining: 0, confirmed: 3, held: 3, drift: 0 });
      // the held units come back on release; the confirmed ones never do
      for (let i = 0; i < 6; i++) await release(r, sale, item, `${item}.o${i}`, 'PAYMENT_FAILED', 'payment_failed');
      expect(await auditItem(r, sale, item)).toMatchObject({
        initial: 6,
        remaining: 3,
        confirmed: 3,
        held: 0,
        drift: 0,
      });
    });
  });

  describe('reserve', () => {
    it('never oversells under many concurrent clients (quantity 1: exactly N units sold)', async () => {
      const item = 'hot1';
      const N = 137;
      await seedItem(r, sale, item, N);
      const orders = Array.from({ length: 1200 }, (_, i) => reserveInput(item, i, `u${i}`));
      const results = await Promise.all(orders.map((o, i) => reserve(clients[i % clients.length]!, sale, o, 60_000)));
      const reserved = results.filter((x) => x.status === 'RESERVED').length;
      expect(reserved).toBe(N);
      expect(results.filter((x) => x.status === 'SOLD_OUT').length).toBe(1200 - N);
      expect(await r.get(itemKeys(sale, item).stock)).toBe('0');
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 0, held: N, holds: N, drift: 0 });
    });

    it('never oversells with mixed quantities, and confirmed units never exceed the seed', async () => {
      const item = 'hot2';
      const N = 101;
      await seedItem(r, sale, item, N);
      const orders = Array.from({ length: 600 }, (_, i) => reserveInput(item, i, `u${i}`, 1 + (i % 4)));
      const results = await Promise.all(orders.map((o, i) => reserve(clients[i % clients.length]!, sale, o, 60_000)));
      let units = 0;
      results.forEach((x, i) => {
        if (x.status === 'RESERVED') units += orders[i]!.quantity;
        expect(x.remaining).toBeGreaterThanOrEqual(0);
      });
      expect(units).toBeLessThanOrEqual(N);
      const left = Number(await r.get(itemKeys(sale, item).stock));
      expect(units + left).toBe(N);
      await Promise.all(
        orders.map((o, i) =>
          results[i]!.status === 'RESERVED' ? confirm(clients[i % 8]!, sale, item, o.orderId) : null,
        ),
      );
      const a = await auditItem(r, sale, item);
      expect(a.confirmed).toBe(units);
      expect(a.confirmed).toBeLessThanOrEqual(N);
      expect(a.drift).toBe(0);
    });

    it('duplicate delivery is harmless: the same order from many clients at once acts once', async () => {
      const item = 'dup1';
      await seedItem(r, sale, item, 5);
      const o = reserveInput(item, 'x', 'u1', 2);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => reserve(clients[i % 8]!, sale, o, 60_000)),
      );
      expect(results.filter((x) => !x.replayed)).toHaveLength(1);
      expect(results.every((x) => x.status === 'RESERVED')).toBe(true);
      expect(await r.get(itemKeys(sale, item).stock)).toBe('3');
      // replays after settlement return the final status and change nothing
      await confirm(r, sale, item, o.orderId);
      const again = await reserve(r, sale, o, 60_000);
      expect(again).toMatchObject({ status: 'CONFIRMED', replayed: true });
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 3, confirmed: 2, held: 0, drift: 0 });
    });

    it('acts on an order the gateway queued (status QUEUED), not on any other stored status', async () => {
      const item = 'q1';
      await seedItem(r, sale, item, 5);
      const o = reserveInput(item, 'q', 'u1');
      await r.hset(itemKeys(sale, item).order(o.orderId), 'status', 'QUEUED', 'created_at', '1');
      expect(await reserve(r, sale, o, 60_000)).toMatchObject({ status: 'RESERVED', replayed: false });
      const rec = await readOrder(r, sale, item, o.orderId);
      expect(rec).toMatchObject({ status: 'RESERVED', created_at: '1', user_id: 'u1', quantity: '1' });
      const o2 = reserveInput(item, 'rej', 'u2');
      await r.hset(itemKeys(sale, item).order(o2.orderId), 'status', 'REJECTED');
      expect(await reserve(r, sale, o2, 60_000)).toMatchObject({ status: 'REJECTED', replayed: true });
      expect(await r.get(itemKeys(sale, item).stock)).toBe('4');
    });

    it('holds the per-user limit under concurrency and frees it on release', async () => {
      const item = 'lim1';
      await seedItem(r, sale, item, 100, 2);
      const mine = Array.from({ length: 20 }, (_, i) => reserveInput(item, `l${i}`, 'greedy'));
      const results = await Promise.all(mine.map((o, i) => reserve(clients[i % 8]!, sale, o, 60_000)));
      expect(results.filter((x) => x.status === 'RESERVED')).toHaveLength(2);
      expect(results.filter((x) => x.status === 'LIMIT_EXCEEDED')).toHaveLength(18);
      const big = await reserve(r, sale, reserveInput(item, 'big', 'other', 3), 60_000);
      expect(big).toMatchObject({ status: 'LIMIT_EXCEEDED', reason: 'per_user_limit' });
      const held = mine.filter((_, i) => results[i]!.status === 'RESERVED');
      await release(r, sale, item, held[0]!.orderId, 'PAYMENT_FAILED', 'payment_failed');
      expect(await reserve(r, sale, reserveInput(item, 'after', 'greedy'), 60_000)).toMatchObject({
        status: 'RESERVED',
      });
      expect(await r.get(itemKeys(sale, item).user('greedy'))).toBe('2');
    });

    it('falls back to EVAL when Redis lost the script cache (NOSCRIPT)', async () => {
      const item = 'flush1';
      await seedItem(r, sale, item, 2);
      const nodes =
        backend.name === 'cluster' ? (r as import('ioredis').Cluster).nodes('master') : [r as import('ioredis').Redis];
      await Promise.all(nodes.map((n) => n.script('FLUSH')));
      expect(await reserve(r, sale, reserveInput(item, 1, 'u1'), 60_000)).toMatchObject({ status: 'RESERVED' });
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 1, held: 1, drift: 0 });
    });

    it('rejects an order for an item that was never seeded', async () => {
      const res = await reserve(r, sale, reserveInput('ghost', 1, 'u1'), 60_000);
      expect(res).toMatchObject({ status: 'REJECTED', reason: 'unknown_item' });
    });
  });

  describe('confirm / release / expire', () => {
    it('settle every hold exactly once when all three race', async () => {
      const item = 'race1';
      const N = 200;
      await seedItem(r, sale, item, N);
      const t0 = Date.now();
      const orders = Array.from({ length: N }, (_, i) => reserveInput(item, i, `u${i}`));
      for (const o of orders) await reserve(r, sale, o, 1, t0); // every hold is due at t0 + 1
      const now = t0 + 10;
      const ops: Promise<unknown>[] = [];
      orders.forEach((o, i) => {
        const c = clients[i % 8]!;
        // confirm uses a clock before the deadline, so confirm and expire really compete
        ops.push(confirm(c, sale, item, o.orderId, t0));
        ops.push(release(clients[(i + 3) % 8]!, sale, item, o.orderId, 'PAYMENT_FAILED', 'payment_failed', now));
        ops.push(release(clients[(i + 5) % 8]!, sale, item, o.orderId, 'PAYMENT_FAILED', 'payment_failed', now));
      });
      for (let k = 0; k < 10; k++) ops.push(expireHolds(clients[k % 8]!, sale, item, 25, now));
      await Promise.all(ops);
      await expireHolds(r, sale, item, 1000, now);
      const statuses = await Promise.all(orders.map((o) => readOrder(r, sale, item, o.orderId)));
      const count = (s: string) => statuses.filter((x) => x?.status === s).length;
      const confirmed = count('CONFIRMED');
      expect(confirmed + count('PAYMENT_FAILED') + count('EXPIRED')).toBe(N);
      const a = await auditItem(r, sale, item);
      expect(a).toMatchObject({ confirmed, held: 0, holds: 0, drift: 0, remaining: N - confirmed });
      expect(a.released + a.expired).toBe(N - confirmed);
      // settling again changes nothing; a confirmed order is never restocked
      for (const o of orders) {
        await release(r, sale, item, o.orderId, 'EXPIRED', 'hold_expired', now);
        await confirm(r, sale, item, o.orderId, now);
      }
      expect(await auditItem(r, sale, item)).toEqual(a);
    });

    it('expires in bounded batches and reports what is still due', async () => {
      const item = 'exp1';
      await seedItem(r, sale, item, 30);
      const t0 = Date.now();
      for (let i = 0; i < 25; i++) await reserve(r, sale, reserveInput(item, i, `u${i}`), 1000, t0);
      expect(await expireHolds(r, sale, item, 10, t0 + 500)).toEqual({ orders: 0, units: 0, dueLeft: 0 });
      expect(await expireHolds(r, sale, item, 10, t0 + 2000)).toEqual({ orders: 10, units: 10, dueLeft: 15 });
      expect(await expireHolds(r, sale, item, 10, t0 + 2000)).toEqual({ orders: 10, units: 10, dueLeft: 5 });
      expect(await expireHolds(r, sale, item, 10, t0 + 2000)).toEqual({ orders: 5, units: 5, dueLeft: 0 });
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 30, expired: 25, held: 0, drift: 0 });
      expect(await r.get(itemKeys(sale, item).user('u1'))).toBeNull();
    });

    it('a payment landing after the hold deadline expires the hold instead of confirming it', async () => {
      const item = 'late1';
      await seedItem(r, sale, item, 1);
      const t0 = Date.now();
      await reserve(r, sale, reserveInput(item, 1, 'u1'), 100, t0);
      expect(await confirm(r, sale, item, `${item}.o1`, t0 + 101)).toMatchObject({
        status: 'EXPIRED',
        outcome: 'expired',
      });
      // a second confirm of the expired order changes no count; the refund is recorded once
      expect(await confirm(r, sale, item, `${item}.o1`, t0 + 102)).toMatchObject({ outcome: 'expired' });
      expect(await markRefunded(r, sale, item, `${item}.o1`, t0 + 103)).toEqual({
        status: 'REFUNDED',
        outcome: 'refunded',
        units: 1,
      });
      expect(await markRefunded(r, sale, item, `${item}.o1`, t0 + 104)).toMatchObject({ outcome: 'replay' });
      expect(await confirm(r, sale, item, `${item}.o1`, t0 + 105)).toMatchObject({ outcome: 'not_reserved' });
      expect(await auditItem(r, sale, item)).toMatchObject({
        remaining: 1,
        confirmed: 0,
        held: 0,
        expired: 1,
        refunded: 1,
        drift: 0,
      });
    });

    it('a payment landing after the sweeper expired the hold records the charge; only such an order is refunded', async () => {
      const item = 'late2';
      await seedItem(r, sale, item, 2);
      const t0 = Date.now();
      await reserve(r, sale, reserveInput(item, 1, 'u1'), 100, t0);
      await reserve(r, sale, reserveInput(item, 2, 'u2'), 100, t0);
      expect(await expireHolds(r, sale, item, 10, t0 + 200)).toMatchObject({ orders: 2 });
      // order 1 was paid late, order 2 never: only order 1 owes a refund
      expect(await confirm(r, sale, item, `${item}.o1`, t0 + 300)).toMatchObject({
        status: 'EXPIRED',
        outcome: 'expired',
      });
      expect(await r.hget(itemKeys(sale, item).order(`${item}.o1`), 'reason')).toBe(PAID_AFTER_EXPIRY);
      expect(await markRefunded(r, sale, item, `${item}.o2`, t0 + 301)).toMatchObject({
        status: 'EXPIRED',
        outcome: 'not_due',
      });
      expect(await markRefunded(r, sale, item, `${item}.o1`, t0 + 302)).toMatchObject({ outcome: 'refunded' });
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 2, expired: 2, refunded: 1, drift: 0 });
    });

    it('publishes sold-out and restock events and every status change', async () => {
      const item = 'pub1';
      const sub = backend.client();
      const got: { channel: string; msg: Record<string, unknown> }[] = [];
      const { channels } = await import('@flashsale/common');
      const ch = channels(sale);
      await (sub as import('ioredis').Redis).subscribe(ch.stock, ch.status);
      sub.on('message', (channel: string, m: string) => got.push({ channel, msg: JSON.parse(m) }));
      await seedItem(r, sale, item, 1);
      await reserve(r, sale, reserveInput(item, 1, 'u1'), 60_000);
      await release(r, sale, item, `${item}.o1`, 'PAYMENT_FAILED', 'payment_failed');
      await new Promise((res) => setTimeout(res, 200));
      sub.disconnect();
      const mine = got.filter((g) => g.msg.item_id === item);
      expect(mine.map((g) => [g.channel === ch.stock ? 'stock' : 'status', g.msg.event ?? g.msg.status])).toEqual([
        ['stock', 'sold_out'],
        ['status', 'RESERVED'],
        ['stock', 'restocked'],
        ['status', 'PAYMENT_FAILED'],
      ]);
    });
  });

  describe('several orders in one call', () => {
    it("reserves an item's orders in the order given, each as a single reserve would (FIFO, limit, replay)", async () => {
      const item = 'many1';
      await seedItem(r, sale, item, 3, 1);
      await reserve(r, sale, reserveInput(item, 0, 'u0'), 60_000); // a redelivered one inside the next call
      const orders = [0, 1, 2, 3, 4, 5].map((n) => reserveInput(item, n, n === 2 ? 'u1' : `u${n}`));
      const res = await reserveMany(r, sale, item, orders, 60_000);
      expect(res.map((x) => [x.status, x.replayed])).toEqual([
        ['RESERVED', true], // already reserved: unchanged
        ['RESERVED', false],
        ['LIMIT_EXCEEDED', false], // u1 again: per-user limit 1, counted inside the same call
        ['RESERVED', false],
        ['SOLD_OUT', false], // 3 units: the first three reserves took them, in order
        ['SOLD_OUT', false],
      ]);
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 0, held: 3, drift: 0 });
    });

    it('refuses the whole call before any write when one quantity is invalid', async () => {
      const item = 'many2';
      await seedItem(r, sale, item, 5);
      const bad = [reserveInput(item, 1, 'u1'), { ...reserveInput(item, 2, 'u2'), quantity: 0 }];
      await expect(reserveMany(r, sale, item, bad, 60_000)).rejects.toThrow(/quantity/);
      // a fractional quantity would fail DECRBY half way through the call: refused up front too
      const half = [reserveInput(item, 1, 'u1'), { ...reserveInput(item, 2, 'u2'), quantity: 1.5 }];
      await expect(reserveMany(r, sale, item, half, 60_000)).rejects.toThrow(/quantity must be a positive integer/);
      // an order whose fields are not all strings (a missing request id) names the order
      const missing = [reserveInput(item, 1, 'u1'), { ...reserveInput(item, 2, 'u2'), requestId: undefined as never }];
      await expect(reserveMany(r, sale, item, missing, 60_000)).rejects.toThrow(/order 2 must be \[order id/);
      expect(await r.exists(itemKeys(sale, item).order(`${item}.o1`))).toBe(0);
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 5, held: 0 });
    });

    it('an error half way through a call (a key of the wrong type) leaves every order before it whole', async () => {
      const item = 'many4';
      await seedItem(r, sale, item, 5);
      await r.set(itemKeys(sale, item).order(`${item}.o2`), 'not a hash');
      const orders = [0, 1, 2, 3].map((n) => reserveInput(item, n, `u${n}`));
      await expect(reserveMany(r, sale, item, orders, 60_000)).rejects.toThrow(/WRONGTYPE/);
      // o0 and o1 hold their units, counted and in the holds set (so the sweeper can expire them); o3 never ran
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 3, held: 2, holds: 2, drift: 0 });
      expect(await r.hget(itemKeys(sale, item).order(`${item}.o1`), 'status')).toBe('RESERVED');
      expect(await r.exists(itemKeys(sale, item).order(`${item}.o3`))).toBe(0);
      // the same for a settle: o0 confirmed and counted, its hold gone, before o2's key fails the call
      const holds = [`${item}.o0`, `${item}.o2`].map((orderId) => ({
        orderId,
        final: 'CONFIRMED' as const,
        reason: '',
      }));
      await expect(settleMany(r, sale, item, holds)).rejects.toThrow(/WRONGTYPE/);
      expect(await auditItem(r, sale, item)).toMatchObject({ remaining: 3, confirmed: 1, held: 1, holds: 1, drift: 0 });
    });

    it('settles several holds of an item in one call, each exactly once', async () => {
      const item = 'many3';
      await seedItem(r, sale, item, 4);
      const t0 = Date.now();
      for (let n = 0; n < 4; n++) await reserve(r, sale, reserveInput(item, n, `u${n}`), 60_000, t0);
      const holds = [
        { orderId: `${item}.o0`, final: 'CONFIRMED' as const, reason: '' },
        { orderId: `${item}.o1`, final: 'PAYMENT_FAILED' as const, reason: 'payment_failed' },
        { orderId: `${item}.o0`, final: 'CONFIRMED' as const, reason: '' }, // the same hold twice: a replay
        { orderId: `${item}.o2`, final: 'CONFIRMED' as const, reason: '' },
      ];
      expect((await settleMany(r, sale, item, holds, t0 + 1)).map((x) => [x.status, x.outcome, x.units])).toEqual([
        ['CONFIRMED', 'confirmed', 0],
        ['PAYMENT_FAILED', 'released', 1],
        ['CONFIRMED', 'replay', 0],
        ['CONFIRMED', 'confirmed', 0],
      ]);
      await expect(
        settleMany(r, sale, item, [{ orderId: `${item}.o3`, final: 'SOLD_OUT' as 'EXPIRED', reason: '' }], t0 + 2),
      ).rejects.toThrow(/final status/);
      expect(await auditItem(r, sale, item)).toMatchObject({
        remaining: 1,
        confirmed: 2,
        held: 1,
        released: 1,
        drift: 0,
      });
    });
  });
});
