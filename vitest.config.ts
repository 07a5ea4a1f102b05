import { defineConfig } from 'vitest/config';

// Three projects. `unit`: pure tests beside the code (`<part>/src/**/*.test.ts`) and the few pure contract tests
// kept beside the suites they guard; no global setup, no service, the whole set in seconds (`make test-unit`).
// `integration`: everything else but the real-node files, over real services handed to the tests by the harness global
// setup (which starts what is missing), two files at a time. `cluster`: the files that run pods on the real node
// (kubelet, containerd, KEDA, Prometheus), one at a time and after the rest (sequence.groupOrder): beside each other
// and beside the integration files they pushed a two-core machine's load average to 65-70, and deadlines written for
// the work under test (a backlog draining, a topic created, a reconcile) ran out on the wait for a core instead.
// `vitest run` (and `make test`) runs all three.
const UNIT = [
  '{common,gateway,processor,operator,cli}/src/**/*.test.ts',
  'tools/**/*.test.ts',
  'bench/*.test.ts',
  // contracts between parts, checked from their sources without any service
  'e2e/operator/env-contract.test.ts',
  'e2e/packaging/generated.test.ts',
];
const CLUSTER = ['e2e/cluster/**/*.test.ts'];
const EXCLUDE = ['**/node_modules/**'];
/**
 * The two projects over real services: the harness's global setup, kafkajs's harmless timer warning dropped, and
 * deadlines for work on a busy machine.
 */
const SERVICES = {
  globalSetup: ['e2e/support/global-setup.ts'],
  setupFiles: ['e2e/support/kafkajs-warning.ts'],
  testTimeout: 60_000,
  hookTimeout: 240_000,
};

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    teardownTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: UNIT, exclude: EXCLUDE, testTimeout: 15_000, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.test.ts'],
          exclude: [...EXCLUDE, ...UNIT, ...CLUSTER],
          ...SERVICES,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CLUSTER,
          exclude: EXCLUDE,
          ...SERVICES,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
