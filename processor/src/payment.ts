/** Payment behind an interface; the simulated provider fails a seedable share of orders. */

export type PaymentResult = { ok: true } | { ok: false; reason: 'payment_failed' | 'payment_timeout'; error: string };
export type RefundResult = { ok: true } | { ok: false; error: string };

export interface PaymentRequest {
  orderId: string;
  userId: string;
  itemId: string;
  quantity: number;
}

export interface PaymentProvider {
  /**
   * Charge once per order id (the provider's idempotency key): a retry after a crash returns the same result. The
   * signal aborts once the caller has given up (the payment timeout); the caller does not wait for the provider.
   */
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

/** murmur3's finaliser: spreads every bit of `h` over all 32 */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Three uniform numbers in [0, 1) derived from (seed, order id): the same order always gets the same fate. One pass
 * of a multiplicative string hash, three finalisers: this runs once per order on the processor's hot path and only
 * has to be deterministic and uniform (it was sha256).
 */
export function draws(seed: string, orderId: string): [number, number, number] {
  const s = `${seed}\0${orderId}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return [fmix(h ^ 0x9e3779b9) / 2 ** 32, fmix(h ^ 0x7f4a7c15) / 2 ** 32, fmix(h ^ 0x94d049bb) / 2 ** 32];
}

const DECLINED: PaymentResult = { ok: false, reason: 'payment_failed', error: 'card declined (simulated)' };
const PAID: PaymentResult = { ok: true };
const NO_ANSWER = 'payment provider did not answer in time';

export class SimulatedPaymentProvider implements PaymentProvider {
  readonly opts: SimulatedPaymentOptions;
  /** refund requests per order id (what was asked); each order is refunded once whatever the count */
  readonly refunded = new Map<string, number>();
  constructor(opts: SimulatedPaymentOptions) {
    this.opts = opts;
  }

  /** whole milliseconds: every distinct timer duration is its own timer list in Node */
  private latency(draw: number): number {
    return Math.round(this.opts.latencyMinMs + draw * (this.opts.latencyMaxMs - this.opts.latencyMinMs));
  }

  /** Refunds always succeed, after the order's payment latency; a repeated request is recorded, not refunded again.
   *  A refund the caller gave up on before it was done is not done. */
  refund(req: PaymentRequest, signal: AbortSignal): Promise<RefundResult> {
    const [, , lat] = draws(this.opts.seed, req.orderId);
    return new Promise((resolve) => {
      setTimeout(() => {
        if (signal.aborted) return resolve({ ok: false, error: NO_ANSWER });
        this.refunded.set(req.orderId, (this.refunded.get(req.orderId) ?? 0) + 1);
        resolve({ ok: true });
      }, this.latency(lat));
    });
  }

  charge(req: PaymentRequest, signal: AbortSignal): Promise<PaymentResult> {
    const [fail, kind, lat] = draws(this.opts.seed, req.orderId);
    const failing = fail < this.opts.failureRate;
    // a hanging payment never answers on its own: it ends when the caller gives up
    if (failing && kind < this.opts.timeoutShare)
      return new Promise((resolve) => {
        const gaveUp = () => resolve({ ok: false, reason: 'payment_timeout', error: NO_ANSWER });
        if (signal.aborted) gaveUp();
        else signal.addEventListener('abort', gaveUp, { once: true });
      });
    return new Promise((resolve) => setTimeout(resolve, this.latency(lat), failing ? DECLINED : PAID));
  }
}

/**
 * Calls that started within the same millisecond share one timer and one abort signal: the payment timeout costs a
 * timer per millisecond of traffic instead of a timer, an AbortController and a listener per order. A call times out
 * between timeoutMs and timeoutMs + 1 after it started.
 */
interface DeadlineGroup {
  startedAt: number;
  timeoutMs: number;
  ctl: AbortController;
  timer: NodeJS.Timeout;
  /** calls still waiting, each told when the deadline passes */
  waiting: Set<() => void>;
}

let current: DeadlineGroup | undefined;

function deadlineGroup(timeoutMs: number): DeadlineGroup {
  const now = performance.now();
  if (current && current.timeoutMs === timeoutMs && now - current.startedAt < 1) return current;
  if (current && current.waiting.size === 0) clearTimeout(current.timer);
  const g: DeadlineGroup = {
    startedAt: now,
    timeoutMs,
    ctl: new AbortController(),
    waiting: new Set(),
    timer: setTimeout(() => {
      g.ctl.abort();
      for (const expire of g.waiting) expire();
    }, timeoutMs + 1),
  };
  current = g;
  return g;
}

/** `call` under the timeout: its answer, or `onTimeout` once the deadline passes (the provider is not waited for). */
function withDeadline<T>(
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
  onTimeout: T,
  onError: (e: Error) => T,
): Promise<T> {
  const g = deadlineGroup(timeoutMs);
  return new Promise<T>((resolve) => {
    const end = (r: T) => {
      if (!g.waiting.delete(expire)) return; // answered already, or expired
      if (g.waiting.size === 0 && g !== current) clearTimeout(g.timer);
      resolve(r);
    };
    const expire = () => end(onTimeout);
    g.waiting.add(expire);
    let started: Promise<T>;
    try {
      started = call(g.ctl.signal);
    } catch (e) {
      return end(onError(e as Error));
    }
    started.then(end, (e: Error) => end(onError(e)));
  });
}

const TIMED_OUT: PaymentResult = { ok: false, reason: 'payment_timeout', error: NO_ANSWER };

/** Call the provider with a timeout; a timeout is a `payment_timeout` failure. */
export function chargeWithTimeout(
  provider: PaymentProvider,
  req: PaymentRequest,
  timeoutMs: number,
): Promise<PaymentResult> {
  return withDeadline(
    timeoutMs,
    (signal) => provider.charge(req, signal),
    TIMED_OUT,
    (e) => ({
      ok: false,
      reason: 'payment_failed',
      error: e.message,
    }),
  );
}

/** Ask the provider for a refund with a timeout; a timeout or an error is a failed refund. */
export function refundWithTimeout(
  provider: PaymentProvider,
  req: PaymentRequest,
  timeoutMs: number,
): Promise<RefundResult> {
  return withDeadline(
    timeoutMs,
    (signal) => provider.refund(req, signal),
    { ok: false, error: NO_ANSWER },
    (e) => ({
      ok: false,
      error: e.message,
    }),
  );
}
