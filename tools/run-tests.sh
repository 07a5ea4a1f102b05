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
rm -f "$out/vitest.json" "$out/vitest-testcontainers.json"
vitest_rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$out/vitest.json" "$@" || vitest_rc=$?
[ "$vitest_rc" -eq 0 ] || rc=1
reports=("$out/vitest.json:$vitest_rc")

# The order path a second time on testcontainers: Redis and Kafka containers from the images `make images` builds,
# through podman's Docker API (the harness starts it). Their ports are random mappings in the ephemeral range, never
# the native services' fixed ports. Only on a whole run (no arguments).
ORDER_PATH_SUITES=(
  gateway/test/orders.test.ts
  gateway/test/sse.test.ts
  gateway/test/sse-processor.test.ts
  processor/test/processor-e2e.test.ts
  processor/test/processor-crash.test.ts
  processor/test/inventory-lua.test.ts
)
if [ "$#" -eq 0 ]; then
  echo "== vitest (order path on testcontainers)"
  tc_rc=0
  FLASHSALE_E2E_ENV=testcontainers FSE_SERVICES=redis,kafka npx vitest run --reporter=default --reporter=json \
    --outputFile.json="$out/vitest-testcontainers.json" "${ORDER_PATH_SUITES[@]}" || tc_rc=$?
  [ "$tc_rc" -eq 0 ] || rc=1
  reports+=("$out/vitest-testcontainers.json:$tc_rc")
else
  echo "== vitest (order path on testcontainers): not run for a run limited by arguments"
fi
node tools/summarize-tests.ts "$checks_passed" "$checks_failed" "${reports[@]}" || rc=1
exit $rc
