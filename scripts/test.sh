#!/usr/bin/env bash
# Runs every test: installs system packages, builds the plugins (real .so files the tests load)
# and the smo binary, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
echo "== building the workspace (plugins, fixture plugins, smo)" >&2
cargo build --workspace --locked
echo "== building the example plugin against plugin-api 1.0.0 (tests/compat, the compatibility test)" >&2
cargo build --locked --manifest-path tests/compat/Cargo.toml --target-dir target/compat
echo "== running all tests" >&2
cargo test --workspace --locked
