#!/usr/bin/env bash
# Installs the system packages smo needs to build and test (Debian/Ubuntu, as root or with sudo).
#   cmake, libclang-dev, g++: HiGHS (the MILP solver) is built from source by the `highs` crate

set -euo pipefail
packages=(cmake libclang-dev g++ pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
