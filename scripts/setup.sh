#!/usr/bin/env bash
# Installs what a fresh machine lacks beyond the Rust toolchain. Idempotent.
set -euo pipefail

need=()
command -v make >/dev/null 2>&1 || need+=(make)
command -v cc >/dev/null 2>&1 || need+=(gcc)
# scripts/schemathesis.sh makes a virtualenv.
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${need[@]}"
    else
        echo "missing: ${need[*]} (install them, or run this script as root)" >&2
        exit 1
    fi
fi

# mold links the test binaries several times faster than GNU ld; optional (.ci/run uses it
# when present), so only installed when this runs as root.
if ! command -v mold >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq mold || echo "note: mold not installed; linking with the default linker" >&2
fi

# The website-crawl test (crates/twig/tests/api/books.rs) crawls the Rust book, the Cargo
# book and the Rust reference that ship with the toolchain: rustup's rust-docs component,
# part of the default profile. Debian's rust-doc is no substitute (no Cargo book, older
# mdBook without toc.html), and this project installs nothing from outside crates.io, PyPI,
# npm and Debian, so a toolchain without the component only gets told; the test then skips.
sysroot="$(rustc --print sysroot 2>/dev/null || true)"
if [ ! -f "$sysroot/share/doc/rust/html/book/toc.html" ]; then
    echo "note: no Rust documentation in $sysroot (rustup component add rust-docs); the crawl test of the Rust books will be skipped" >&2
fi
