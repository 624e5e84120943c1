#!/usr/bin/env bash
# bench/soak.sh [MINUTES] [KILL_EVERY_S]: the soak run (not in CI; see
# bench/soak.cpp). Defaults: 30 minutes, a SIGKILL round every ~80 s
# (at least 20 in 30 minutes). Runs under `nice` (SOAK_NICE, default 10):
# the machine is shared. Samples go to build/soak.csv, the summary to stdout;
# exit status 1 when the soak failed.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
kill_every=${2:-80}
scripts/deps.sh
[[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target soak mlgate >/dev/null
exec nice -n "${SOAK_NICE:-10}" build/bench/soak --minutes "$minutes" --kill-every "$kill_every" \
  --sample 10 --csv build/soak.csv
