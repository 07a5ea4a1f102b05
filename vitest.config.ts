import { defineConfig } from 'vitest/config';

// One run over every workspace. Unit tests of pure functions sit beside the code (`*.test.ts`);
// tests over real services live in `e2e/` and the workspaces' `test/` folders and get their
// endpoints from the harness global setup (which starts what is missing).
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: ['e2e/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
