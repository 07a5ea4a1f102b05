// Prints "N passed, N failed" over the vitest JSON report plus the non-vitest checks (lint, typecheck).
// A missing or unreadable report counts as one failure, so a crashed run never looks green.
import { readFileSync } from 'node:fs';

const [report, checksPassed = '0', checksFailed = '0', vitestExit = '0'] = process.argv.slice(2);
let passed = Number(checksPassed);
let failed = Number(checksFailed);
try {
  const json = JSON.parse(readFileSync(report ?? '', 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    testResults: { name: string; status: string; message?: string; assertionResults: unknown[] }[];
  };
  passed += json.numPassedTests;
  // Skipped and todo tests count as failures: nothing may be hidden.
  failed += json.numFailedTests + json.numPendingTests + json.numTodoTests;
  // A file that fails to load (or whose hooks fail) has no failed tests of its own; count it.
  for (const file of json.testResults) {
    if (file.status === 'failed' && file.assertionResults.length === 0) {
      failed += 1;
      console.error(`suite failed without tests: ${file.name}: ${file.message ?? ''}`);
    }
  }
} catch (err) {
  console.error(`no vitest report at ${report}: ${(err as Error).message}`);
  failed += 1;
}
// vitest failed for a reason no test shows (global setup, unhandled error): that is a failure too.
if (vitestExit !== '0' && failed === Number(checksFailed)) {
  console.error(`vitest exited with ${vitestExit} without a failed test: counted as one failure`);
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
