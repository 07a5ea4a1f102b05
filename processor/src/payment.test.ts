import { describe, expect, it } from 'vitest';
import { chargeWithTimeout, draws, refundWithTimeout, SimulatedPaymentProvider } from './payment.ts';

const req = (n: number) => ({ orderId: `i.${n}`, userId: 'u', itemId: 'i', quantity: 1 });

describe('simulated payment provider', () => {
  it('fails the configured share, the same orders for the same seed', async () => {
    const p = new SimulatedPaymentProvider({
      failureRate: 0.1,
      timeoutShare: 0,
      seed: 's1',
      latencyMinMs: 0,
      latencyMaxMs: 0,
    });
    const run = () => Promise.all(Array.from({ length: 2000 }, (_, n) => chargeWithTimeout(p, req(n), 1000)));
    const a = await run();
    const failed = a.filter((r) => !r.ok).length;
    expect(failed).toBeGreaterThan(140);
    expect(failed).toBeLessThan(260);
    expect((await run()).map((r) => r.ok)).toEqual(a.map((r) => r.ok));
    const other = new SimulatedPaymentProvider({ ...p.opts, seed: 's2' });
    const b = await Promise.all(Array.from({ length: 2000 }, (_, n) => chargeWithTimeout(other, req(n), 1000)));
    expect(b.map((r) => r.ok)).not.toEqual(a.map((r) => r.ok));
  });

  it('turns a hanging payment into payment_timeout after the timeout', async () => {
    const p = new SimulatedPaymentProvider({
      failureRate: 1,
      timeoutShare: 1,
      seed: 's',
      latencyMinMs: 0,
      latencyMaxMs: 0,
    });
    const t0 = Date.now();
    const r = await chargeWithTimeout(p, req(1), 50);
    expect(r).toMatchObject({ ok: false, reason: 'payment_timeout' });
    expect(Date.now() - t0).toBeLessThan(1000);
    const d = new SimulatedPaymentProvider({ ...p.opts, timeoutShare: 0 });
    expect(await chargeWithTimeout(d, req(1), 50)).toMatchObject({ ok: false, reason: 'payment_failed' });
  });

  it('times out a provider that ignores the abort signal, and tells it through the signal', async () => {
    let seen: AbortSignal | undefined;
    const deaf = {
      charge: (_r: unknown, signal: AbortSignal) => {
        seen = signal;
        return new Promise<never>(() => {});
      },
      refund: () => new Promise<never>(() => {}),
    };
    const t0 = Date.now();
    const [a, b] = await Promise.all([chargeWithTimeout(deaf, req(1), 40), chargeWithTimeout(deaf, req(2), 40)]);
    expect(a).toMatchObject({ ok: false, reason: 'payment_timeout' });
    expect(b).toMatchObject({ ok: false, reason: 'payment_timeout' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(39);
    expect(seen?.aborted).toBe(true);
    expect(await refundWithTimeout(deaf, req(3), 20)).toMatchObject({ ok: false });
    // a provider that throws is a failed payment, not a crash
    const broken = { charge: () => Promise.reject(new Error('tls handshake failed')), refund: deaf.refund };
    expect(await chargeWithTimeout(broken, req(4), 1000)).toEqual({
      ok: false,
      reason: 'payment_failed',
      error: 'tls handshake failed',
    });
  });

  it('refunds, records every request per order id, and turns a slow refund into a failure after the timeout', async () => {
    const p = new SimulatedPaymentProvider({
      failureRate: 0,
      timeoutShare: 0,
      seed: 's',
      latencyMinMs: 0,
      latencyMaxMs: 0,
    });
    expect(await refundWithTimeout(p, req(1), 1000)).toEqual({ ok: true });
    expect(await refundWithTimeout(p, req(1), 1000)).toEqual({ ok: true });
    expect(p.refunded.get('i.1')).toBe(2);
    const slow = new SimulatedPaymentProvider({ ...p.opts, latencyMinMs: 5000, latencyMaxMs: 5000 });
    expect(await refundWithTimeout(slow, req(2), 30)).toMatchObject({ ok: false });
    expect(slow.refunded.has('i.2')).toBe(false);
  });
});

describe('draws', () => {
  it('are uniform enough: each of the three falls in every tenth of [0, 1) about equally often', () => {
    const n = 20_000;
    const tenths = [0, 1, 2].map(() => new Array<number>(10).fill(0));
    for (let i = 0; i < n; i++) {
      const d = draws('seed', `item${i % 16}.o${i}`);
      for (const [k, x] of d.entries()) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(1);
        tenths[k]![Math.floor(x * 10)]!++;
      }
    }
    for (const t of tenths) for (const c of t) expect(Math.abs(c - n / 10)).toBeLessThan(n / 10 / 5);
    // the three are not the same number, nor tied to each other
    const [a, b] = draws('seed', 'item1.o1');
    expect(a).not.toBe(b);
  });
});
