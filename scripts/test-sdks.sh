#!/usr/bin/env bash
# The SDK suites, against the `twig` that `cargo test` built (target/debug/twig, or TWIG_BIN):
# generated types current, the Python suite (pytest), the TypeScript build, suite and tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export TWIG_BIN=${TWIG_BIN:-$root/target/debug/twig}
if [ ! -x "$TWIG_BIN" ]; then
    echo "$TWIG_BIN is missing: run cargo test (or cargo build --bin twig) first" >&2
    exit 1
fi

bash scripts/sdk-setup.sh
bash scripts/gen-sdk-types.sh --check

echo "== Python SDK (sdks/python)"
(cd sdks/python && .venv/bin/mypy --no-incremental src/twig && .venv/bin/python -m pytest -q -p no:cacheprovider)

echo "== TypeScript SDK (sdks/typescript)"
(
    cd sdks/typescript
    npm run --silent build
    node --test --test-concurrency=1 test/sdk.test.mjs
    # The tarball installs into a fresh project (no registry needed: no runtime dependencies).
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    npm pack --silent --ignore-scripts --pack-destination "$tmp" >/dev/null
    mkdir "$tmp/app" && cd "$tmp/app"
    echo '{"name":"app","version":"1.0.0","type":"module"}' >package.json
    npm install --silent --offline --no-audit --no-fund "$tmp"/twig-sdk-*.tgz
    node -e 'const { TwigClient } = require("@twig/sdk"); if (typeof TwigClient !== "function") process.exit(1)'
    node --input-type=module -e 'import { TwigClient, verifyWebhook } from "@twig/sdk"; if (typeof verifyWebhook !== "function" || new TwigClient({ apiKey: "k" }).baseUrl !== "https://api.twig.so") process.exit(1)'
    test -f node_modules/@twig/sdk/dist/types/index.d.ts
    echo "npm pack: installable tarball ok"
)
