#!/usr/bin/env bash
# Installs the Debian 12 packages mlgate builds, tests and benchmarks with.
# Nothing else is downloaded, at build time or at run time. Idempotent: asks
# apt only for what is missing. Needs root (or sudo) the first time.
#   --bench  also wrk (bench/run.sh)
#   --fuzz   also clang-14 and libFuzzer (fuzz/, the MLGATE_FUZZ=ON build)
set -euo pipefail
# dpkg-dev, file: the package (cpack -G DEB, dpkg-shlibdeps); python3: the
# example client's test; chromium: the /docs page's browser test (without
# its recommends: fonts, desktop helpers); ninja-build: scripts/test.sh's
# generator (quicker to start and schedule than make).
pkgs=(build-essential cmake pkg-config ninja-build
      libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev libssl-dev zlib1g-dev
      doctest-dev libbenchmark-dev curl sqlite3 dpkg-dev file python3
      libhiredis-dev redis-server   # --redis: the client library; tests start a real server
      libpq-dev postgresql-15 postgresql-client-15)  # --database postgresql://: likewise
lean=(chromium)
for arg in "$@"; do
  case $arg in
    --bench) pkgs+=(wrk redis-tools) ;;  # redis-tools: redis-benchmark
    --fuzz) pkgs+=(clang-14 libclang-rt-14-dev libfuzzer-14-dev) ;;
    *) echo "usage: scripts/deps.sh [--bench] [--fuzz]" >&2; exit 2 ;;
  esac
done
missing() {
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
sudo=""
[[ $(id -u) == 0 ]] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
install() {  # install [apt-get options] -- packages...
  local opts=()
  while [[ $1 != -- ]]; do opts+=("$1"); shift; done
  shift
  (($# == 0)) && return 0
  echo "mlgate: installing $*" >&2
  $sudo apt-get install -y -q "${opts[@]}" "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${opts[@]}" "$@" >/dev/null; }
}
install -- $(missing "${pkgs[@]}")
install --no-install-recommends -- $(missing "${lean[@]}")
