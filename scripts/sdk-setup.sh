#!/usr/bin/env bash
# Installs what the SDK suites need: a venv under sdks/python/.venv (git-ignored) with the
# pinned test and generation tools, and the TypeScript SDK's npm dependencies (npm ci).
# Idempotent: a venv whose requirements did not change is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

py=sdks/python
req="$py/requirements-dev.txt"
stamp="$py/.venv/.requirements"
if [ ! -x "$py/.venv/bin/python" ] || ! cmp -s "$req" "$stamp"; then
    python3 -m venv "$py/.venv"
    "$py/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
fi

if [ -f sdks/typescript/package-lock.json ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is missing: install Node.js 18+ (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    lock=sdks/typescript/package-lock.json
    if [ ! -d sdks/typescript/node_modules ] || ! cmp -s "$lock" sdks/typescript/node_modules/.package-lock.json.copy; then
        (cd sdks/typescript && npm ci --silent --no-audit --no-fund)
        cp "$lock" sdks/typescript/node_modules/.package-lock.json.copy
    fi
fi
