#!/usr/bin/env bash
# Runs every test: installs system packages, builds the plugins (real .so files the tests load)
# and the smo binary, then runs the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
echo "== building the workspace (plugins, fixture plugins, smo)" >&2
cargo build --workspace --locked
# where cargo puts the build (honours CARGO_TARGET_DIR and .cargo/config); the compatibility
# test looks for the old build in <target>/compat
target_dir=$(./scripts/target-dir.sh)
echo "== building the example plugin against plugin-api 1.0.0 (tests/compat, the compatibility test)" >&2
cargo build --locked --manifest-path tests/compat/Cargo.toml --target-dir "${target_dir}/compat"
echo "== running all tests" >&2
cargo test --workspace --locked
echo "== a host of the next minor plugin-api version loads the 1.0.0 plugin (tests/compat)" >&2
cargo test --locked -p smo-plugin-api --features testing-next-minor --test next_minor
