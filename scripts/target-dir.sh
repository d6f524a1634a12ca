#!/usr/bin/env bash
# Prints the directory cargo builds this workspace into (honours CARGO_TARGET_DIR and
# .cargo/config), for the scripts that copy or build artefacts there.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(cargo metadata --locked --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$dir" ] || { echo "target-dir.sh: cannot tell cargo's target directory" >&2; exit 1; }
echo "$dir"
