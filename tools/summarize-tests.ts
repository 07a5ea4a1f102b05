// Prints "N passed, N failed" over one or more vitest JSON reports plus the non-vitest checks (lint, typecheck):
//   node tools/summarize-tests.ts <checks passed> <checks failed> <report.json>:<vitest exit code> [...]
// A missing or unreadable report counts as one failure, so a crashed run never looks green.
import { readFileSync } from 'node:fs';

const [checksPassed = '0', checksFailed = '0', ...runs] = process.argv.slice(2);
let passed = Number(checksPassed);
let failed = Number(checksFailed);

interface Report {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName?: string; title: string; status: string; failureMessages?: string[] }[];
  }[];
}

// The tail of a CI log is often all one sees: name every failed or skipped test there, right above the summary.
const named: string[] = [];
const firstLine = (text: string | undefined): string => (text ?? '').split('\n').find((l) => l.trim() !== '') ?? '';

for (const arg of runs) {
  const at = arg.lastIndexOf(':');
  const report = at > 0 ? arg.slice(0, at) : arg;
  const vitestExit = at > 0 ? arg.slice(at + 1) : '0';
  let failedHere = 0;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as Report;
    passed += json.numPassedTests;
    // Skipped and todo tests count as failures: nothing may be hidden.
    failedHere += json.numFailedTests + json.numPendingTests + json.numTodoTests;
    // A file that fails to load (or whose hooks fail) has no failed tests of its own; count it.
    for (const file of json.testResults) {
      for (const test of file.assertionResults) {
        if (test.status !== 'passed') {
          named.push(
            `${test.status}: ${file.name} > ${test.fullName ?? test.title}: ${firstLine(test.failureMessages?.[0])}`,
          );
        }
      }
      if (file.status === 'failed' && file.assertionResults.length === 0) {
        failedHere += 1;
        console.error(`suite failed without tests: ${file.name}: ${file.message ?? ''}`);
      } else if (file.status === 'failed' && file.message) {
        // a failed hook (beforeAll) skips the file's tests: its error says why they were skipped
        named.push(`file failed: ${file.name}: ${firstLine(file.message)}`);
      }
    }
  } catch (err) {
    console.error(`no vitest report at ${report}: ${(err as Error).message}`);
    failedHere += 1;
  }
  // vitest failed for a reason no test shows (global setup, unhandled error): that is a failure too.
  if (vitestExit !== '0' && failedHere === 0) {
    console.error(`vitest (${report}) exited with ${vitestExit} without a failed test: counted as one failure`);
    failedHere += 1;
  }
  failed += failedHere;
}
if (runs.length === 0) {
  console.error('no vitest report given: counted as one failure');
  failed += 1;
}
for (const line of named) console.log(line.slice(0, 1200));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
