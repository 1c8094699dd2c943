#!/usr/bin/env bash
# Runs the whole vitest suite and ends with a plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p test-results
# every daemon home, camera, bucket and browser profile the tests make goes under one directory of this run
# (they all take os.tmpdir()): removed when the run passes, kept and named when it does not
# (open like /tmp itself: PostgreSQL's test clusters run as the postgres user, which must reach its folder)
TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/wcs-tests-XXXXXX")"
chmod 1777 "$TMPDIR"
export TMPDIR
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
summary="0 passed, 0 failed"
if [ -f "$report" ]; then
  if ! summary=$(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // a file that failed before or around its tests (a beforeAll that threw) has no failed test of its own: it counts as one
    const brokenFiles = (r.testResults ?? []).filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests + brokenFiles} failed` + (skipped ? `, ${skipped} skipped` : ""));
    if (r.numTotalTests === 0) process.exit(1);
  ' "$report"); then
    status=1
  fi
else
  [ "$status" -eq 0 ] && status=1
fi
if [ "$status" -eq 0 ] || [ -n "${CI:-}" ]; then
  rm -rf "$TMPDIR"
else
  echo "the tests' daemon homes and logs are kept in $TMPDIR"
fi
echo "${summary:-0 passed, 0 failed}"
exit "$status"
