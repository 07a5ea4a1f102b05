/**
 * The runbook's circuit breaker on top of opossum: opens after `failureThreshold` consecutive failures,
 * closes after `successThreshold` successes in half-open, and stays open for `base * 2^n` (n = opens since the
 * last close) capped at `max`. opossum supplies the call timeout, the open/half-open mechanics and the single
 * trial call when the open period ends; its own percentage rule is switched off (volumeThreshold = infinity),
 * and the consecutive count, the growing open period and the success threshold are kept here.
 *
 * Half-open: opossum lets exactly one trial call through. If it succeeds, further calls flow while the breaker
 * still counts as half-open; any failure before `successThreshold` successes re-opens it with a longer period.
 */
import { EventEmitter } from 'node:events';
import { CIRCUIT_STATE_VALUE } from '@flashsale/common';
import CircuitBreaker from 'opossum';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold: number;
  successThreshold: number;
  baseTimeoutMs: number;
  maxTimeoutMs: number;
  /** a call slower than this counts as a failure */
  callTimeoutMs: number;
}

export class BreakerOpenError extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('circuit breaker is open');
    this.name = 'BreakerOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}

export class ExponentialBreaker<A extends unknown[], R> extends EventEmitter<{
  state: [state: BreakerState, info: { openForMs?: number; failures?: number }];
}> {
  readonly opts: BreakerOptions;
  private readonly cb: CircuitBreaker<A, R>;
  private current: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private halfOpenSuccesses = 0;
  /** opens since the last close: the exponent of the open period */
  private openStreak = 0;
  private openedAt = 0;
  private openForMs = 0;

  constructor(action: (...args: A) => Promise<R>, opts: BreakerOptions) {
    super();
    this.opts = opts;
    this.cb = new CircuitBreaker<A, R>(action, {
      timeout: opts.callTimeoutMs,
      resetTimeout: opts.baseTimeoutMs,
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      errorThresholdPercentage: 100,
      rollingCountTimeout: 10_000,
      enableSnapshots: false,
    });
    this.cb.on('success', () => this.onSuccess());
    this.cb.on('failure', () => this.onFailure());
    this.cb.on('open', () => {
      this.openedAt = Date.now();
      this.openForMs = this.cbOptions.resetTimeout ?? this.opts.baseTimeoutMs;
      this.openStreak += 1;
      this.set('open', { openForMs: this.openForMs, failures: this.consecutiveFailures });
    });
    this.cb.on('halfOpen', () => {
      this.halfOpenSuccesses = 0;
      // If the trial fails, opossum re-opens by itself: give it the next, longer period now.
      this.cbOptions.resetTimeout = this.nextOpenPeriod();
      this.set('half-open', {});
    });
  }

  /** opossum reads `options.resetTimeout` each time it opens; the typings do not expose it. */
  private get cbOptions(): { resetTimeout: number } {
    return (this.cb as unknown as { options: { resetTimeout: number } }).options;
  }

  get state(): BreakerState {
    return this.current;
  }

  get stateValue(): number {
    return this.current === 'open'
      ? CIRCUIT_STATE_VALUE.open
      : this.current === 'half-open'
        ? CIRCUIT_STATE_VALUE.halfOpen
        : CIRCUIT_STATE_VALUE.closed;
  }

  /** ms until the breaker lets a trial through (0 unless open) */
  get retryAfterMs(): number {
    if (this.current !== 'open') return 0;
    return Math.max(0, this.openedAt + this.openForMs - Date.now());
  }

  nextOpenPeriod(): number {
    return Math.min(this.opts.baseTimeoutMs * 2 ** this.openStreak, this.opts.maxTimeoutMs);
  }

  async fire(...args: A): Promise<R> {
    if (this.current === 'open') throw new BreakerOpenError(this.retryAfterMs);
    try {
      return await this.cb.fire(...args);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EOPENBREAKER') throw new BreakerOpenError(Math.max(this.retryAfterMs, 1000));
      throw e;
    }
  }

  shutdown(): void {
    this.cb.shutdown();
  }

  private onSuccess(): void {
    this.consecutiveFailures = 0;
    if (this.current === 'half-open') {
      this.halfOpenSuccesses += 1;
      if (this.halfOpenSuccesses >= this.opts.successThreshold) {
        this.openStreak = 0;
        this.cbOptions.resetTimeout = this.opts.baseTimeoutMs;
        this.cb.close();
        this.set('closed', {});
      }
    }
  }

  private onFailure(): void {
    this.consecutiveFailures += 1;
    if (this.current === 'half-open') {
      // opossum re-opens by itself when its trial fails; after the trial it is closed, so open it here.
      if (!this.cb.opened) {
        this.cbOptions.resetTimeout = this.nextOpenPeriod();
        this.cb.open();
      }
      return;
    }
    if (this.current === 'closed' && this.consecutiveFailures >= this.opts.failureThreshold) {
      this.cbOptions.resetTimeout = this.nextOpenPeriod();
      this.cb.open();
    }
  }

  private set(state: BreakerState, info: { openForMs?: number; failures?: number }): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state, info);
  }
}
