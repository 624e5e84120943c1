#!/usr/bin/env bash
# bench/redis.sh: the cost of shared limits. Builds mlgate in Release
# (build-bench/, as bench/run.sh), starts a redis-server on loopback
# (persistence off) and two servers side by side, and prints one Markdown
# table (date, command, nproc, load average):
#   E  the embedded limiter                 (the bench/run.sh "A" configuration:
#   R  the same with --redis                 --limit-ip 1e9/s --tier bench=1e9/s, access log to a file)
# Scenarios, interleaved E/R in each round, median of ROUNDS:
#   GET /jobs/{id} (get_job.lua) and POST /predict with a wrong key (bad_key.lua:
#   20 failures, then 429s from the failed-key budget) on E and R;
#   then Redis is killed and GET /jobs/{id} runs again on E and on R (R in its
#   --redis-fail local fallback: the outage).
# Also: redis_decisions (the limiter's own decisions a second through Redis, 1
# and 2 threads) and `redis-benchmark -t get` as the reference point.
#
# usage: bench/redis.sh [SECONDS_PER_RUN] [ROUNDS]      (defaults 5 and 3)
#   BENCH_SKIP_BUILD=1   use the existing build-bench/
#   BENCH_CONNS=32       wrk connections (-t2 -c$BENCH_CONNS)
# needs: wrk, redis-server, redis-benchmark (redis-tools), curl, python3
# (scripts/deps.sh --bench installs them).
set -euo pipefail
secs=${1:-5}; rounds=${2:-3}
conns=${BENCH_CONNS:-32}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"
bin="$build/mlgate"

for t in wrk redis-server redis-benchmark curl python3; do
  command -v $t >/dev/null || { echo "redis.sh: $t missing (scripts/deps.sh --bench)" >&2; exit 2; }
done
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=OFF -DMLGATE_BENCH=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target mlgate redis_decisions >"$build.log" 2>&1 ||
    { tail -30 "$build.log" >&2; echo "redis.sh: build failed" >&2; exit 1; }
fi

work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; { wait; } 2>/dev/null || true; rm -rf "$work"; }
trap 'cleanup 2>/dev/null' EXIT  # no "Killed" lines for the servers
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, wait_up, load, median

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --dir "$work" --logfile "$work/redis.log" &
rpid=$!; pids+=($rpid)
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

common=(--host 127.0.0.1 --limit-ip 1000000000/s --tier bench=1000000000/s)
declare -A port dir key jobid
start() { # name extra-flags...
  local n=$1; shift
  port[$n]=$(free_port); dir[$n]="$work/$n"
  "$bin" serve "${common[@]}" --port "${port[$n]}" --data-dir "${dir[$n]}" "$@" 2>"$work/$n.log" >/dev/null &
  pids+=($!)
}
start E
start R --redis "redis://127.0.0.1:$rport"
for n in E R; do
  wait_up "${port[$n]}"
  key[$n]=$("$bin" keys create --name bench --tier bench --scopes predict,read,metrics --data-dir "${dir[$n]}")
  jobid[$n]=$(curl -fs -X POST "http://127.0.0.1:${port[$n]}/predict" -H "X-API-Key: ${key[$n]}" \
    -H 'Content-Type: application/json' -d '{"text":"A good first job to poll during the benchmark"}' |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["job_uuid"])')
done

# One wrk run; prints "requests_per_s p99_ms non2xx load".
run() { # server script
  local n=$1 what=$2 out rps p99 bad
  out=$(BENCH_KEY=${key[$n]} BENCH_JOB=${jobid[$n]} wrk -t2 -c"$conns" -d"${secs}s" --latency \
        -s "$here/$what" "http://127.0.0.1:${port[$n]}")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms/,"",v); else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps ${p99:-nan} ${bad:-0} $(load)"
}

declare -A res
scen=("get_job:E:get_job.lua" "get_job:R:get_job.lua" "bad_key:E:bad_key.lua" "bad_key:R:bad_key.lua")
for ((r = 0; r < rounds; r++)); do
  for s in "${scen[@]}"; do
    IFS=: read -r name srv what <<<"$s"
    res[$name:$srv]+="$(run "$srv" "$what")"$'\n'
  done
  sleep 7  # the failed-key budget (20/min) refills before the next round
done
rkeys=$(redis-cli -p "$rport" dbsize)
rmem=$(redis-cli -p "$rport" info memory | awk -F: '/^used_memory_human/ {gsub(/\r/,"",$2); print $2}')

dec1=$("$build/bench/redis_decisions" "redis://127.0.0.1:$rport" 1 "$secs")
dec2=$("$build/bench/redis_decisions" "redis://127.0.0.1:$rport" 2 "$secs")
# -q rewrites one progress line with \r; the last piece is the result.
rbench() { redis-benchmark -p "$rport" -t get -q "$@" | tr '\r' '\n' | grep 'requests per second' | tail -1; }
rb=$(rbench -n 200000 -c "$conns"); rb1=$(rbench -n 100000 -c 1)

# The outage: Redis killed; R decides with its embedded fallback.
kill -9 "$rpid"; { wait "$rpid"; } 2>/dev/null || true
sleep 0.5
curl -fs "http://127.0.0.1:${port[R]}/health" | grep -q 'local (redis unavailable)' ||
  curl -fs "http://127.0.0.1:${port[R]}/jobs/${jobid[R]}" -H "X-API-Key: ${key[R]}" >/dev/null
for ((r = 0; r < rounds; r++)); do
  for srv in E R; do res[outage:$srv]+="$(run "$srv" get_job.lua)"$'\n'; done
done
health=$(curl -fs "http://127.0.0.1:${port[R]}/health")

col() { awk -v c="$2" 'NF {print $c}' <<<"${res[$1]}" | median; }
echo
echo "## mlgate bench/redis.sh — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "command: \`bench/redis.sh $secs $rounds\` (wrk -t2 -c$conns -d${secs}s --latency, median of $rounds), nproc $(nproc), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(redis-server --version | grep -o 'v=[0-9.]*')"
echo
echo "| scenario | embedded req/s | --redis req/s | ratio | embedded p99 ms | --redis p99 ms | load (1-min) | target |"
echo "|---|---|---|---|---|---|---|---|"
row() { # name label target
  local e r
  e=$(col "$1:E" 1); r=$(col "$1:R" 1)
  printf '| %s | %.0f | %.0f | %.2f | %s | %s | %s / %s | %s |\n' "$2" "$e" "$r" \
    "$(awk -v a="$r" -v b="$e" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$(col "$1:E" 2)" "$(col "$1:R" 2)" \
    "$(col "$1:E" 4)" "$(col "$1:R" 4)" "$3"
}
row get_job "GET /jobs/{id}" ">= 0.5x, p99 < 10 ms"
row bad_key "POST with a wrong key (429 after 20)" ""
row outage "GET /jobs/{id}, Redis killed (R: local fallback)" "p99 within 5 ms of embedded"
echo
echo "- limiter alone through Redis (3 checks, one EVALSHA): $dec1; $dec2"
echo "- redis-benchmark -t get -c $conns: $rb; -c 1: $rb1"
echo "- Redis after the runs: $rkeys keys, $rmem used"
echo "- R's /health during the outage: $health"
