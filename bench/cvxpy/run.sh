#!/usr/bin/env bash
# default-lp's re-placement side by side with upstream SMO's CVXPY + HiGHS model, on the same
# generated instances. On demand only (not in CI). See bench/README.md.
#
#   bench/cvxpy/run.sh [--sizes 50x20,500x100,2000x200] [--runs 3] [--seed 42]
#                      [--model both|same|upstream]
#
# Environment: VENV (default ~/.cache/smo-bench-venv) holds cvxpy and highspy from PyPI, made on
# first use; OUT (default target/bench-cvxpy) receives the instances and results.
set -euo pipefail

sizes=50x20,500x100,2000x200
runs=3
seed=42
model=both
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) sizes=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$HOME/.cache/smo-bench-venv}
out=${OUT:-$root/target/bench-cvxpy}

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv (cvxpy, highspy, numpy from PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$root/bench/cvxpy/requirements.txt"
fi

cd "$root"
cargo run --quiet --release -p smo-plugin-default-lp --example replacement_instances -- \
    "$out" --sizes "$sizes" --runs "$runs" --seed "$seed" >&2
if [ "$model" = both ]; then
    models="upstream same"
else
    models=$model
fi
for m in $models; do
    "$venv/bin/python" "$root/bench/cvxpy/replacement.py" "$out" --sizes "$sizes" --runs "$runs" \
        --model "$m"
    echo
done
