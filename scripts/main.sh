#!/usr/bin/env bash
# The main job: build the strategy plugins and `smo`, then compare placement strategies on the
# 24-hour, 5-datacenter European scenario (real 2024 hourly carbon intensity and renewable
# supply, VM arrivals from the Azure 2017 trace) on the simulated continuum.
# Prints the comparison table and writes out/eu-5dc-24h.png and out/eu-5dc-24h.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
echo "== building smo and the strategy plugins (the first build compiles HiGHS, a few minutes)" >&2
cargo build --locked -p smo -p smo-plugin-default-lp -p smo-plugin-ecmr \
  -p smo-plugin-h3ni-energy -p smo-plugin-sbmp-gma -p smo-plugin-ecosystem
# where cargo put the build (honours CARGO_TARGET_DIR and .cargo/config)
target_dir=$(./scripts/target-dir.sh)
smo="${target_dir}/debug/smo"
mkdir -p out/plugins out/state
chmod go-w out/plugins   # smo refuses plugins others may write
for lib in default_lp ecmr h3ni_energy sbmp_gma ecosystem; do
  # install by rename, as an operator would
  install -m 0644 "${target_dir}/debug/libsmo_${lib}.so" "out/plugins/.${lib}.tmp"
  mv "out/plugins/.${lib}.tmp" "out/plugins/${lib}.so"
done
scenario=${1:-scenarios/eu-5dc-24h.yaml}
name=$(basename "$scenario" .yaml)
strategies=(--strategy default-lp/placement --strategy ecmr/nearest --strategy ecmr/heuristic
            --strategy h3ni-energy/placement)
echo "== smo simulate $scenario" >&2
"$smo" simulate "$scenario" --plugin-dir out/plugins --state-dir out/state \
  "${strategies[@]}" --plot "out/${name}.png"
"$smo" simulate "$scenario" --plugin-dir out/plugins --state-dir out/state \
  "${strategies[@]}" --json --no-progress > "out/${name}.json"
echo "== wrote out/${name}.png and out/${name}.json" >&2
