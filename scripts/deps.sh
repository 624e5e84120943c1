#!/usr/bin/env bash
# Installs the Debian 12 packages mlgate builds, tests and benchmarks with.
# Nothing else is downloaded, at build time or at run time. Idempotent: asks
# apt only for what is missing. Needs root (or sudo) the first time.
#   --bench  also wrk (bench/run.sh)
#   --fuzz   also clang-14 and libFuzzer (fuzz/, the MLGATE_FUZZ=ON build)
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libssl-dev zlib1g-dev
      doctest-dev libbenchmark-dev curl sqlite3)
for arg in "$@"; do
  case $arg in
    --bench) pkgs+=(wrk) ;;
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev) ;;
    *) echo "usage: scripts/deps.sh [--bench] [--fuzz]" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
sudo=""
[[ $(id -u) == 0 ]] || sudo="sudo"
echo "mlgate: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
  { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
