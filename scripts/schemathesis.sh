#!/usr/bin/env bash
# Fuzzes the real server against its own OpenAPI document with schemathesis (`--checks all`):
# a fresh data dir, the bootstrap key (every scope), the key-revoking operation excluded so
# the run keeps its key. Any finding fails. Idempotent: the virtualenv is made once.
#
#   scripts/schemathesis.sh            # uses target/debug/twig (what `cargo test` built)
#   TWIG_BIN=path/to/twig ST_MAX_EXAMPLES=50 ST_SEED=1 scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV=${ST_VENV:-target/schemathesis-venv}
BIN=${TWIG_BIN:-target/debug/twig}
MAX_EXAMPLES=${ST_MAX_EXAMPLES:-15}
SEED=${ST_SEED:-20261202}
MAX_TIME=${ST_MAX_TIME:-150}

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi
if [ ! -x "$BIN" ]; then
    cargo build -q --bin twig
fi

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Lexical search (no model download), no rate limits (thousands of requests from one key),
# webhook hosts may be local (the hooks point generated URLs at localhost), no sync workers
# (generated website sources are never crawled).
TWIG_EMBEDDING__PROVIDER=none \
TWIG_RATE_LIMITS__ENABLED=false \
TWIG_WEBHOOKS__ALLOW_PRIVATE_NETWORKS=true \
TWIG_INGEST__WORKERS=0 \
TWIG_LOG__LEVEL=warn \
    "$BIN" serve --data-dir "$work/data" --addr "127.0.0.1:$port" >"$work/stdout" 2>"$work/stderr" &
server=$!

key=""
for _ in $(seq 1 100); do
    key=$(grep -o 'twigsk_live_[A-Za-z0-9]*' "$work/stdout" || true)
    if [ -n "$key" ] && python3 -c "import urllib.request as u; u.urlopen('$base/healthz', timeout=1)" 2>/dev/null; then break; fi
    if ! kill -0 "$server" 2>/dev/null; then cat "$work/stderr" >&2; exit 1; fi
    sleep 0.2
done
[ -n "$key" ] || { echo "no bootstrap key printed" >&2; cat "$work/stderr" >&2; exit 1; }

# `api_keys_revoke` (DELETE /api-keys/{id}) could revoke the run's own key.
status=0
TWIG_ST_BASE=$base TWIG_ST_KEY=$key PYTHONPATH=scripts SCHEMATHESIS_HOOKS=schemathesis_hooks \
    "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
    --checks all \
    --header "Authorization: Bearer $key" \
    --exclude-operation-id api_keys_revoke \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --seed "$SEED" \
    --workers 2 \
    --request-timeout 20 \
    --suppress-health-check all \
    --no-color "$@" || status=$?

if grep -q "panicked" "$work/stderr"; then
    echo "the server logged a panic:" >&2
    grep -A3 "panicked" "$work/stderr" >&2
    status=1
fi
exit "$status"
