/** Test-side access to the services the global setup provides; a missing service fails the test loudly. */
import { inject } from 'vitest';
import type { ServiceEndpoints } from '../../tools/harness/src/types.ts';

export function requireService<K extends keyof ServiceEndpoints>(name: K): NonNullable<ServiceEndpoints[K]> {
  const endpoint = inject('services')[name];
  if (!endpoint) {
    throw new Error(
      `service '${name}' was not provided by the global setup (FSE_SERVICES='${process.env.FSE_SERVICES ?? ''}', ` +
        `FLASHSALE_E2E_ENV='${process.env.FLASHSALE_E2E_ENV ?? ''}'); see e2e/support/global-setup.ts`,
    );
  }
  return endpoint;
}

/** Polls until check() is truthy; throws naming what it waited for. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
