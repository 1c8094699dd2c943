#!/usr/bin/env bash
# Runs the whole vitest suite and ends with a plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p test-results
report=test-results/vitest.json
rm -f "$report"
# the tests are TypeScript too: a stale shape in a test is an error, not something vitest's transpiler hides
typecheck=0
if [ "$#" -eq 0 ] && ! npx --no-install tsc -p tsconfig.tests.json; then
  echo "type errors in src/ or test/ (tsc -p tsconfig.tests.json): see above"
  typecheck=1
fi
npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
[ "$typecheck" -eq 0 ] || status=1
if [ -f "$report" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
    if (r.numTotalTests === 0) process.exit(1);
  ' "$report" || status=1
else
  echo "0 passed, 0 failed"
  [ "$status" -eq 0 ] && status=1
fi
exit "$status"
