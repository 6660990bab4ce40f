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
