/**
 * Vitest global setup: starts (or reuses) the real services the test run needs and provides their endpoints.
 *
 * - FLASHSALE_E2E_ENV=native|testcontainers picks the provider (unset: testcontainers when a Docker engine answers,
 *   native otherwise).
 * - FSE_SERVICES (comma or space separated) picks the services; default: all of them but the on-demand ones
 *   (SETUP_SERVICES), since smoke tests for each one must fail rather than skip when it is missing. The metrics
 *   pipeline is started by the tests that use it (e2e/cluster/metrics-support.ts), unless FSE_SERVICES names it.
 * - Native services already running (from `make services-up` or another test run) are reused. At teardown a service
 *   is stopped only when a test run started it and no other live test run still holds a lease on it.
 */
// the harness's Kafka clients in this (vitest's main) process: their harmless timer warning dropped, as in the workers
import './kafkajs-warning.ts';
import type { TestProject } from 'vitest/node';
import type { ServiceName } from '../../tools/harness/src/index.ts';
import {
  createProvider,
  leases,
  NativeProvider,
  parseServices,
  SETUP_SERVICES,
  selectProviderKind,
} from '../../tools/harness/src/index.ts';

export default async function setup(project: TestProject) {
  const names: ServiceName[] = parseServices(process.env.FSE_SERVICES, SETUP_SERVICES);
  const kind = await selectProviderKind();
  const provider = createProvider(kind);
  const t0 = Date.now();
  if (provider instanceof NativeProvider) for (const n of names) leases.take(n);
  let endpoints: Awaited<ReturnType<typeof provider.up>>;
  try {
    endpoints = await provider.up(names, { owner: 'setup' });
  } catch (e) {
    if (provider instanceof NativeProvider) await provider.release(names).catch(() => {});
    else await provider.down().catch(() => {});
    throw e;
  }
  const startedNow = provider instanceof NativeProvider ? [...provider.started] : names;
  process.stderr.write(
    `[services] ${kind}: ${names.join(', ')} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
      ` (started now: ${startedNow.join(', ') || 'none'}; reused: ${names.filter((n) => !startedNow.includes(n)).join(', ') || 'none'})\n`,
  );
  project.provide('services', endpoints);

  return async () => {
    if (provider instanceof NativeProvider) {
      const stopped = await provider.release(names);
      if (stopped.length) process.stderr.write(`[services] stopped ${stopped.join(', ')}\n`);
    } else {
      await provider.down();
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: import('../../tools/harness/src/types.ts').ServiceEndpoints;
  }
}
