/** Payment behind an interface; the simulated provider fails a seedable share of orders. */
import { createHash } from 'node:crypto';

export type PaymentResult = { ok: true } | { ok: false; reason: 'payment_failed' | 'payment_timeout'; error: string };
export type RefundResult = { ok: true } | { ok: false; error: string };

export interface PaymentRequest {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
}

export interface PaymentProvider {
  /** Charge once per order id (the provider's idempotency key): a retry after a crash returns the same result. */
  charge(req: PaymentRequest, signal: AbortSignal): Promise<PaymentResult>;
  /**
   * Refund the order's charge, once per order id (the same idempotency key): a second call after a crash refunds
   * nothing more and answers ok.
   */
  refund(req: PaymentRequest, signal: AbortSignal): Promise<RefundResult>;
}

export interface SimulatedPaymentOptions {
  failureRate: number;
  /** share of failures that hang past the timeout instead of declining */
  timeoutShare: number;
  seed: string;
  latencyMinMs: number;
  latencyMaxMs: number;
}

/** Three uniform numbers in [0, 1) derived from (seed, order id): the same order always gets the same fate. */
function draws(seed: string, orderId: string): [number, number, number] {
  const h = createHash('sha256').update(`${seed}\0${orderId}`).digest();
  const u = (o: number) => h.readUInt32BE(o) / 2 ** 32;
  return [u(0), u(4), u(8)];
}

export class SimulatedPaymentProvider implements PaymentProvider {
  readonly opts: SimulatedPaymentOptions;
  /** refund requests per order id (what was asked); each order is refunded once whatever the count */
  readonly refunded = new Map<string, number>();
  constructor(opts: SimulatedPaymentOptions) {
    this.opts = opts;
  }

  /** Refunds always succeed, after the order's payment latency; a repeated request is recorded, not refunded again. */
  refund(req: PaymentRequest, signal: AbortSignal): Promise<RefundResult> {
    const [, , lat] = draws(this.opts.seed, req.orderId);
    const latency = this.opts.latencyMinMs + lat * (this.opts.latencyMaxMs - this.opts.latencyMinMs);
    return new Promise((resolve) => {
      const onAbort = () => {
        clearTimeout(timer);
        resolve({ ok: false, error: 'payment provider did not answer in time' });
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        this.refunded.set(req.orderId, (this.refunded.get(req.orderId) ?? 0) + 1);
        resolve({ ok: true });
      }, latency);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  charge(req: PaymentRequest, signal: AbortSignal): Promise<PaymentResult> {
    const [fail, kind, lat] = draws(this.opts.seed, req.orderId);
    const failing = fail < this.opts.failureRate;
    const hangs = failing && kind < this.opts.timeoutShare;
    const latency = this.opts.latencyMinMs + lat * (this.opts.latencyMaxMs - this.opts.latencyMinMs);
    return new Promise((resolve) => {
      const done = (r: PaymentResult) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const onAbort = () =>
        done({ ok: false, reason: 'payment_timeout', error: 'payment provider did not answer in time' });
      signal.addEventListener('abort', onAbort);
      // a hanging payment never answers: only the caller's timeout ends it
      const timer = hangs
        ? setTimeout(() => {}, 2 ** 31 - 1)
        : setTimeout(
            () =>
              done(
                failing ? { ok: false, reason: 'payment_failed', error: 'card declined (simulated)' } : { ok: true },
              ),
            latency,
          );
      if (signal.aborted) onAbort();
    });
  }
}

/** Call the provider with a timeout; a timeout is a `payment_timeout` failure. */
export async function chargeWithTimeout(
  provider: PaymentProvider,
  req: PaymentRequest,
  timeoutMs: number,
): Promise<PaymentResult> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    return await provider.charge(req, ctl.signal);
  } catch (e) {
    return { ok: false, reason: 'payment_failed', error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Ask the provider for a refund with a timeout; a timeout or an error is a failed refund. */
export async function refundWithTimeout(
  provider: PaymentProvider,
  req: PaymentRequest,
  timeoutMs: number,
): Promise<RefundResult> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    return await provider.refund(req, ctl.signal);
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
