import { defineConfig } from 'vitest/config';

// Two projects. `unit`: pure tests beside the code (`<part>/src/**/*.test.ts`) and the few pure contract tests
// kept beside the suites they guard; no global setup, no service, the whole set in seconds (`make test-unit`).
// `integration`: everything else, over real services handed to the tests by the harness global setup (which starts
// what is missing). `vitest run` (and `make test`) runs both.
const UNIT = [
  '{common,gateway,processor,operator,cli}/src/**/*.test.ts',
  'tools/**/*.test.ts',
  'bench/*.test.ts',
  // contracts between parts, checked from their sources without any service
  'e2e/operator/env-contract.test.ts',
  'e2e/packaging/generated.test.ts',
];
const EXCLUDE = ['**/node_modules/**'];

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    teardownTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: UNIT, exclude: EXCLUDE, testTimeout: 15_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.test.ts'],
          exclude: [...EXCLUDE, ...UNIT],
          globalSetup: ['e2e/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
