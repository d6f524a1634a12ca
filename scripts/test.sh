#!/usr/bin/env bash
# Runs every test: installs system packages, builds the plugins (real .so files the tests load)
# and the smo binary, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
echo "== building the workspace (plugins, fixture plugins, smo)" >&2
cargo build --workspace --locked
echo "== running all tests" >&2
cargo test --workspace --locked
