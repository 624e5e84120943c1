#!/usr/bin/env bash
# bench/startup.sh: what linking a client library costs the default binary.
# Starts each given mlgate binary ROUNDS times on the embedded default (a
# fresh SQLite data folder each time) and prints, per binary, the median
# time from exec to the first 200 from /health, and the resident memory
# (VmRSS) and mapped libraries after one idle second. Rounds interleave the
# binaries, so a change in the machine's load falls on all of them alike.
#
# usage: bench/startup.sh [ROUNDS] BINARY...     (default 20 rounds)
# e.g.   bench/startup.sh 20 build/mlgate build-nopg/mlgate
# (build-nopg: cmake -B build-nopg -DMLGATE_POSTGRES=OFF -DMLGATE_TESTS=OFF -DMLGATE_BENCH=OFF)
set -euo pipefail
rounds=20
[[ ${1:-} =~ ^[0-9]+$ ]] && { rounds=$1; shift; }
(($# >= 1)) || { echo "usage: bench/startup.sh [ROUNDS] BINARY..." >&2; exit 2; }
bins=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, wait_up, load, median

declare -a times rss libs
for ((i = 0; i < rounds; i++)); do
  for b in "${!bins[@]}"; do
    port=$(free_port)
    t0=$(date +%s%N)
    "${bins[$b]}" serve --port "$port" --data-dir "$work/d$b-$i" 2>/dev/null &
    pid=$!
    until curl -fs -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do sleep 0.002; done
    t1=$(date +%s%N)
    times[$b]+="$(( (t1 - t0) / 1000 )) "
    sleep 1
    rss[$b]+="$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") "
    libs[$b]=$(awk '$6 ~ /\.so/ {print $6}' "/proc/$pid/maps" | sort -u | wc -l)
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done

echo "| binary | links libpq | start to first /health 200 (ms, median of $rounds) | idle RSS (KiB, median) | shared libraries mapped |"
echo "|---|---|---|---|---|"
for b in "${!bins[@]}"; do
  t=$(tr ' ' '\n' <<<"${times[$b]}" | grep . | median)
  r=$(tr ' ' '\n' <<<"${rss[$b]}" | grep . | median)
  pq=no; ldd "${bins[$b]}" | grep -q libpq && pq=yes
  printf '| %s | %s | %.1f | %s | %s |\n' "${bins[$b]}" "$pq" "$(awk -v t="$t" 'BEGIN {print t / 1000}')" "$r" "${libs[$b]}"
done
