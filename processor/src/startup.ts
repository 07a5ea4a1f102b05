/**
 * Start-up steps that need Kafka, retried until they succeed. The operator creates a sale's Deployments before its
 * topics, and a broker that is still starting (a quick start's, or one being restarted) refuses connections for a
 * while: a processor that exited then would go into CrashLoopBackOff, whose delay doubles up to 5 minutes, and start
 * that much later than its broker. It waits instead, alive (/livez) and not ready (/readyz), and says so in its log.
 * A bad configuration still stops start-up at once (config.ts, exit 2; a refused TLS certificate, before this).
 */
import type { Logger } from '@flashsale/common';
import { Backoff } from './order/retry-policy.ts';

/** Runs `step` until it resolves, 0.5 s apart doubled up to 10 s; every failure is logged (`startup_waiting`). */
export async function untilStarted<T>(log: Logger, what: string, step: () => Promise<T>): Promise<T> {
  const backoff = new Backoff({ attempts: Number.POSITIVE_INFINITY, baseMs: 500, maxMs: 10_000 });
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (e) {
      log.warn(
        { event: 'startup_waiting', what, attempt, err: (e as Error).message },
        `Start-up waits for ${what}; retrying`,
      );
      await backoff.wait();
    }
  }
}
