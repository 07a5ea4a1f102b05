/**
 * Start-up steps that need Kafka, retried until they succeed. The operator creates a sale's Deployments before its
 * topics, and a broker that is still starting (a quick start's, or one being restarted) refuses connections for a
 * while: a processor that exited then would go into CrashLoopBackOff, whose delay doubles up to 5 minutes, and start
 * that much later than its broker. It waits instead, alive (/livez) and not ready (/readyz), and says so in its log.
 * A bad configuration still stops start-up at once (config.ts, exit 2; a refused TLS certificate, before this).
 */
import type { Logger } from '@flashsale/common';
import { Backoff } from './order/retry-policy.ts';

/** the delays between tries: 0.5 s doubled up to 10 s (half of it jitter) */
export const STARTUP_RETRY = { attempts: Number.POSITIVE_INFINITY, baseMs: 500, maxMs: 10_000 };

/** Runs `step` until it resolves; every failure is logged (event `startup_waiting`) with what failed and why. */
export async function untilStarted<T>(
  log: Logger,
  what: string,
  step: () => Promise<T>,
  retry: typeof STARTUP_RETRY = STARTUP_RETRY,
): Promise<T> {
  const backoff = new Backoff(retry);
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (e) {
      if (attempt >= retry.attempts) throw e;
      log.warn(
        { event: 'startup_waiting', what, attempt, err: (e as Error).message },
        `Start-up waits for ${what}; retrying`,
      );
      await backoff.wait();
    }
  }
}
