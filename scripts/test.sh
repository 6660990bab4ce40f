#!/usr/bin/env bash
# The whole test suite (`make test`, and so CI): the real servers the scale-out tests use
# (scripts/services.sh), cargo's tests, then the suites that drive target/debug/twig from
# outside: the SDKs, real third-party clients (openai, mcp) and schemathesis.
#
# One build serves everything. The outside suites mostly wait on HTTP, so they run beside
# cargo's tests; their output is held back and printed after cargo's, and either failing fails
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
cargo test --workspace --no-run

outside_log=$(mktemp)
trap 'rm -f "$outside_log"' EXIT
(
    set -e
    bash scripts/test-sdks.sh
    python3 tests/clients/run.py
    bash scripts/schemathesis.sh
) >"$outside_log" 2>&1 &
outside=$!

cargo_status=0
cargo test --workspace --no-fail-fast || cargo_status=$?
outside_status=0
wait "$outside" || outside_status=$?

echo "== SDK suites, client tests and schemathesis (run beside cargo's tests)"
cat "$outside_log"
if [ "$cargo_status" != 0 ]; then echo "cargo's tests failed" >&2; fi
if [ "$outside_status" != 0 ]; then echo "the SDK, client or schemathesis suites failed" >&2; fi
[ "$cargo_status" = 0 ] && [ "$outside_status" = 0 ]
