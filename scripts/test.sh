#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to every test: installs the
# dependencies, builds the Release build with its tests, and runs them all
# with ctest (doctest unit tests, VADER checks against ../shared when it is
# there, and the end-to-end tests that start the real binary).
# MLGATE_SANITIZE=address,undefined (or thread) builds and runs the same
# tests under sanitizers in build-<sanitizer>/. MLGATE_BUILD_ONLY=1 stops
# after the build (.ci/run builds ahead while other tests run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=build san=${MLGATE_SANITIZE:-}
# Tests on, whatever an earlier configure of the same folder cached (a
# cached MLGATE_TESTS=OFF once made this script run no test and exit 0).
args=(-DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=ON)
if [[ -n $san ]]; then
  dir=build-${san//,/-}
  # -O1 -g1: what the sanitizers recommend (line tables are enough for their
  # stack traces), and the build is several minutes shorter than at -O2 -g.
  # Assertions stay on.
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
        "-DMLGATE_SANITIZE=$san" -DMLGATE_TESTS=ON -DMLGATE_BENCH=OFF)
fi
# Ninja for a new build folder (a folder made by make stays with make: cmake
# refuses to switch the generator of an existing cache).
[[ -f $dir/CMakeCache.txt ]] || args+=(-G Ninja)
cmake -S . -B "$dir" "${args[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
[[ -z ${MLGATE_BUILD_ONLY:-} ]] || exit 0
# --no-tests=error: a build that registered no test is a failure, not a pass.
cd "$dir" && ctest --no-tests=error --output-on-failure --timeout 600 -j"${MLGATE_TEST_JOBS:-2}"
