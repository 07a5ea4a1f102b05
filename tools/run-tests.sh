#!/usr/bin/env bash
# Runs every suite (lint, typecheck, vitest) to the end, even when one fails, and prints one
# summary line "N passed, N failed" summed over all of them.
set -uo pipefail
out="${TEST_REPORT_DIR:-reports/tmp}"
mkdir -p "$out"
rc=0
checks_passed=0
checks_failed=0
run_check() {
  local name="$1"; shift
  echo "== $name: $*"
  if "$@"; then checks_passed=$((checks_passed + 1)); else checks_failed=$((checks_failed + 1)); rc=1; echo "== $name FAILED"; fi
}
run_check lint npx biome check .
run_check typecheck npx tsc -p tsconfig.json
echo "== vitest"
rm -f "$out/vitest.json"
vitest_rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$out/vitest.json" "$@" || vitest_rc=$?
[ "$vitest_rc" -eq 0 ] || rc=1
node tools/summarize-tests.ts "$out/vitest.json" "$checks_passed" "$checks_failed" "$vitest_rc" || rc=1
exit $rc
