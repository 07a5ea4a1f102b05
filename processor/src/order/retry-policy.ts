/**
 * The one retry policy of the order path (REDIS_RETRY_*): which Redis errors are worth another try, and the capped
 * exponential backoff with jitter between tries. A single call retries by itself (`withRedisRetry`); the reserve
 * stage retries a whole round of orders with one budget per batch (`RetryRound`, `Backoff`), so an outage costs
 * REDIS_RETRY_ATTEMPTS rounds, not that many per order.
 */
import type { Logger } from '@flashsale/common';
import type { ProcessorConfig } from '../config.ts';

export type RetryConfig = ProcessorConfig['redisRetry'];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Script and argument errors are permanent; connection-level failures are transient. */
export function isTransientRedisError(e: unknown): boolean {
  const err = e as { name?: string; message?: string };
  if (err?.name === 'ReplyError')
    return /^(LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|BUSY|READONLY|OOM|NOREPLICAS)/.test(err.message ?? '');
  return true;
}

/** The delays between tries: half the current delay plus jitter, doubled each time up to the cap. */
export class Backoff {
  private delay: number;
  private readonly cfg: RetryConfig;
  constructor(cfg: RetryConfig) {
    this.cfg = cfg;
    this.delay = cfg.baseMs;
  }
  async wait(): Promise<void> {
    await sleep(this.delay / 2 + Math.random() * (this.delay / 2));
    this.delay = Math.min(this.delay * 2, this.cfg.maxMs);
  }
}

/** One call, retried on transient errors within the budget; the last error is thrown. */
export async function withRedisRetry<T>(cfg: RetryConfig, log: Logger, what: string, fn: () => Promise<T>) {
  const backoff = new Backoff(cfg);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= cfg.attempts || !isTransientRedisError(e)) throw e;
      log.warn({ event: 'redis_retry', what, attempt, err: (e as Error).message }, 'transient Redis error, retrying');
      await backoff.wait();
    }
  }
}

/** One round of a batch-wide retry: what failed transiently with rounds left is deferred to the next round. */
export class RetryRound<T> {
  readonly n: number;
  readonly again: T[] = [];
  lastError: unknown;
  private readonly cfg: RetryConfig;
  constructor(cfg: RetryConfig, n: number) {
    this.cfg = cfg;
    this.n = n;
  }
  /** a transient error, and rounds are left */
  retriable(e: unknown): boolean {
    return isTransientRedisError(e) && this.n < this.cfg.attempts;
  }
  /** true: `item` goes to the next round; false: the caller gives up on it */
  defer(item: T, e: unknown): boolean {
    if (!this.retriable(e)) return false;
    this.again.push(item);
    this.lastError = e;
    return true;
  }
}
