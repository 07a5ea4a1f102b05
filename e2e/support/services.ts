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

// the one polling helper lives in wait.ts; re-exported for the files that take it with requireService
export { eventually } from './wait.ts';
