#!/usr/bin/env bash
# bench/run.sh: builds mlgate in Release (build-bench/), runs the wrk scenarios,
# the microbenchmarks, and the memory / size / start-up measurements, and prints
# one Markdown table (with the date, the command, nproc and the load average).
#
# usage: bench/run.sh [SECONDS_PER_RUN] [ROUNDS]      (defaults 5 and 3; medians)
#   BENCH_SKIP_BUILD=1   use the existing build-bench/
#   BENCH_MICRO_TIME=0.2 seconds per microbenchmark (Google Benchmark min_time)
#   BENCH_CONNS=32       wrk connections (-t2 -c$BENCH_CONNS)
#   BENCH_ONLY=a,b       only these scenarios (names as in the table), and none of the
#                        start-up, size and microbenchmark measurements
#   BENCH_BUILD_DIR=DIR  the build to measure (default build-bench/; with BENCH_SKIP_BUILD=1
#                        it may be any build of any commit, e.g. to compare before/after)
# needs: cmake, g++, wrk, sqlite3, curl, python3 (installed with apt when missing and root).
#
# Servers (loopback, each its own temp data dir), started side by side so that
# scenarios can be interleaved and machine drift hits all alike:
#   A  the vs_seed.sh configuration: --limit-ip 1e9/s --tier bench=1e9/s, access log on
#      (to a file), default --limit-auth-fail 20/min
#   B  as A with --access-log false (the log's cost)
#   C  as A with --limit-auth-fail 1000000000/s (every wrong key reaches the key check: 401s)
# Wrong keys: "malformed" (not-a-key: refused by its format, before any lookup) and
# "well-formed" (mlg_ + 32 base62 + a correct checksum, in no database: looked up, then
# the miss-refresh of src/key_store.hpp runs).
set -euo pipefail
secs=${1:-5}; rounds=${2:-3}
conns=${BENCH_CONNS:-32}
micro=${BENCH_MICRO_TIME:-0.2}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
bin="$build/mlgate"

need=()
for t in wrk sqlite3 curl cmake; do command -v $t >/dev/null || need+=("$t"); done
dpkg -s libbenchmark-dev >/dev/null 2>&1 || need+=(libbenchmark-dev)
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get install -y -q "${need[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
  else echo "run.sh: install ${need[*]} first" >&2; exit 2; fi
fi

if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  for try in 1 2 3; do  # another engineer may be mid-edit: retry a failed build
    if cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=OFF -DMLGATE_BENCH=ON >/dev/null &&
       cmake --build "$build" -j"$(nproc)" >"$build.log" 2>&1; then break; fi
    [[ $try == 3 ]] && { tail -30 "$build.log" >&2; echo "run.sh: build failed" >&2; exit 1; }
    echo "run.sh: build failed, retrying in 30 s" >&2; sleep 30
  done
fi

work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, wait_up, load, median

common=(--host 127.0.0.1 --limit-ip 1000000000/s --tier bench=1000000000/s --tier flood=10/s)
declare -A port dir
start() { # name extra-flags...
  local n=$1; shift
  port[$n]=$(free_port); dir[$n]="$work/$n"
  "$bin" serve "${common[@]}" --port "${port[$n]}" --data-dir "${dir[$n]}" "$@" 2>"$work/$n.log" >/dev/null &
  pids+=($!); eval "pid_$n=$!"
}
start A
start B --access-log false
start C --limit-auth-fail 1000000000/s
# A well-formed key that no server knows, made here rather than by the binary
# under test (the format is public: base62 body, CRC-32 of it in 6 base62 digits).
wrong_key=$(python3 -c '
import secrets, zlib
a = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
body = "".join(secrets.choice(a) for _ in range(32))
c, s = zlib.crc32(body.encode()), ""
for _ in range(6):
    s, c = a[c % 62] + s, c // 62
print("mlg_" + body + s)')
declare -A key fkey jobid
for n in A B C; do
  wait_up "${port[$n]}"
  key[$n]=$("$bin" keys create --name bench --tier bench --scopes predict,read,metrics --data-dir "${dir[$n]}")
  fkey[$n]=$("$bin" keys create --name flood --tier flood --scopes predict,read --data-dir "${dir[$n]}")
  jobid[$n]=$(curl -fs -X POST "http://127.0.0.1:${port[$n]}/predict" -H "X-API-Key: ${key[$n]}" \
    -H 'Content-Type: application/json' -d '{"text":"A good first job to poll during the benchmark"}' |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["job_uuid"])')
done

# One wrk run; prints "requests_per_s p99_ms non2xx socket_errors load".
run() { # server key script-or-path
  local n=$1 k=$2 what=$3 out
  local url="http://127.0.0.1:${port[$n]}"
  if [[ $what == /* ]]; then out=$(BENCH_KEY=$k BENCH_JOB=${jobid[$n]} wrk -t2 -c"$conns" -d"${secs}s" --latency "$url$what")
  else out=$(BENCH_KEY=$k BENCH_JOB=${jobid[$n]} wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$here/$what" "$url"); fi
  local rps p99 bad err
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) sub(/ms/,"",v); else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  err=$(awk '/Socket errors/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) {v=$i; sub(/,/,"",v); s+=v}; print s}' <<<"$out")
  echo "$rps ${p99:-nan} ${bad:-0} ${err:-0} $(load)"
}

# name:server:key-kind:what; key kinds: key (valid), fkey (valid, 10/s tier), mkey
# (malformed), wkey (well-formed, unknown). The failed-key scenario on A goes last in
# a round: its 429s block the address's valid requests for a few seconds afterwards
# (per-address failure budget), so a pause follows it.
scen=("health:A:key:/health" "health_nolog:B:key:/health"
      "get_job:A:key:get_job.lua" "get_job_nolog:B:key:get_job.lua"
      "post_predict:A:key:post_predict.lua" "post_predict_nolog:B:key:post_predict.lua"
      "flood_429:A:fkey:post_predict.lua"
      "bad_key_401:C:mkey:bad_key.lua"
      "wrong_key_401:C:wkey:bad_key.lua"
      "bad_key:A:mkey:bad_key.lua")
if [[ -n ${BENCH_ONLY:-} ]]; then
  only=(); for s in "${scen[@]}"; do [[ ,$BENCH_ONLY, == *,${s%%:*},* ]] && only+=("$s"); done
  scen=("${only[@]}")
fi
declare -A res
for ((r = 0; r < rounds; r++)); do
  for s in "${scen[@]}"; do
    IFS=: read -r name srv kk what <<<"$s"
    case $kk in
      fkey) k=${fkey[$srv]};; mkey) k=not-a-key;; wkey) k=$wrong_key;; *) k=${key[$srv]};;
    esac
    res[$name]+="$(run "$srv" "$k" "$what")"$'\n'
  done
  sleep 7  # the failure budget of A's address (20/min) refills before the next round
done

metric() { curl -fs -H "X-API-Key: ${key[$1]}" "http://127.0.0.1:${port[$1]}/metrics" | awk -v m="$2" '$1==m {print $2}'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
threads() { awk '/Threads/ {print $2}' "/proc/$1/status"; }
batch() { awk -v a="$(metric "$1" mlgate_store_committed_ops_total)" -v b="$(metric "$1" mlgate_store_commits_total)" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}'; }
batchA=$(batch A); batchB=$(batch B)
rssA=$(rss_kb "$pid_A"); rssB=$(rss_kb "$pid_B"); thrA=$(threads "$pid_A")
logA=$(wc -l <"$work/A.log")

# Start-up: exec to the first 200 on /health, polled every millisecond (median of 5).
startup_ms() { # data-dir
  python3 - "$bin" "$1" <<'EOF'
import socket, subprocess, sys, time
binary, data = sys.argv[1], sys.argv[2]
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
t0 = time.perf_counter()
p = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data,
                      "--access-log", "false"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
req = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
ms = float("nan")
while time.perf_counter() - t0 < 10:
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=1)
        c.sendall(req)
        if c.recv(64).startswith(b"HTTP/1.1 200"):
            ms = (time.perf_counter() - t0) * 1000; c.close(); break
        c.close()
    except OSError:
        pass
    time.sleep(0.001)
p.terminate(); p.wait()
print(f"{ms:.1f}")
EOF
}
fill() { # data-dir status count: jobs inserted straight into the table (schema of src/schema.cpp)
  "$bin" keys create --init --name fill --data-dir "$1" >/dev/null  # creates and migrates the file
  local fin="NULL" lab="NULL" score="NULL" resj="NULL"
  if [[ $2 == completed ]]; then fin="1700000000000"; lab="'positive'"; score="0.5"; resj="'{\"neg\":0.0,\"neu\":0.5,\"pos\":0.5,\"compound\":0.5}'"; fi
  sqlite3 "$1/mlgate.db" "PRAGMA journal_mode=WAL;
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
    INSERT INTO jobs (uuid, owner, key_id, status, input, attempts, result_label, result_score, result,
                      created_at, started_at, finished_at)
    SELECT printf('%08x-0000-4000-8000-%012x', i, i), 'fill', 'key_fill', '$2',
           'The service was good and the staff were friendly, visit number ' || i, 0, $lab, $score, $resj,
           1700000000000 + i, $fin, $fin FROM n;" >/dev/null
}
su_med() { for _ in 1 2 3 4 5; do startup_ms "$@"; done | median; }
su_empty=- su_done=- su_pend=- size_kb=- micro_out=""
if [[ -z ${BENCH_ONLY:-} ]]; then
su_empty=$(for _ in 1 2 3 4 5; do rm -rf "$work/su0"; startup_ms "$work/su0"; done | median)
fill "$work/su_done" completed 100000; su_done=$(su_med "$work/su_done")
# Pending jobs are re-queued at start (and then run): a fresh copy for each start.
fill "$work/su_pend_src" pending 100000
su_pend=$(for _ in 1 2 3; do rm -rf "$work/su_pend"; cp -r "$work/su_pend_src" "$work/su_pend"; startup_ms "$work/su_pend"; done | median)

strip -o "$work/mlgate.stripped" "$bin"
size_kb=$(( $(stat -c %s "$work/mlgate.stripped") / 1024 ))

# Microbenchmarks, briefly: name and time per iteration (or items/s where reported).
micro_out=""
for b in "$build"/bench/bench_*; do
  [[ -x $b ]] || continue
  "$b" --benchmark_min_time="$micro" --benchmark_out="$work/micro.json" --benchmark_out_format=json >/dev/null 2>&1 || true
  micro_out+=$(python3 -c '
import json, sys
try:
    runs = json.load(open(sys.argv[2]))["benchmarks"]
except Exception:
    runs = []
    print("| %s | (failed) | | | |" % sys.argv[1])
for r in runs:
    if r.get("run_type") == "aggregate": continue
    extra = ["%.3g items/s" % r["items_per_second"]] if "items_per_second" in r else []
    extra += ["%s %.3g" % (k, r[k]) for k in ("ops_per_commit", "allowed") if k in r]
    u = r["time_unit"]
    print("| %s | %s | %.0f %s | %.0f %s | %s |" % (sys.argv[1], r["name"], r["real_time"], u, r["cpu_time"], u, ", ".join(extra)))
' "$(basename "$b")" "$work/micro.json")$'\n'
done

fi

col() { awk -v c="$2" 'NF {print $c}' <<<"${res[$1]}" | median; }
target() {
  case $1 in
    health|health_nolog) echo ">= 32,000 req/s (1/4 nginx), >= 32,000 (8x seed 4,000)";;
    get_job|get_job_nolog) echo ">= 20,670 (30x seed 689)";;
    bad_key|bad_key_401|wrong_key_401) echo ">= 28,935 (15x seed 1,929)";;
    post_predict|post_predict_nolog) echo ">= 13,300 (100x seed 133) and >= 10,000";;
    flood_429) echo "(429s; no target)";;
  esac
}
echo
echo "## mlgate bench/run.sh — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "command: \`bench/run.sh $secs $rounds\` (wrk -t2 -c$conns -d${secs}s --latency, median of $rounds), nproc $(nproc), $(uname -m), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo
echo "| scenario | server | req/s | p99 ms | non-2xx / run | load (1-min avg) | target |"
echo "|---|---|---|---|---|---|---|"
for s in "${scen[@]}"; do
  IFS=: read -r name srv kk what <<<"$s"
  printf '| %s | %s | %.0f | %s | %.0f | %s | %s |\n' "$name" "$srv" "$(col "$name" 1)" "$(col "$name" 2)" \
    "$(col "$name" 3)" "$(col "$name" 5)" "$(target "$name")"
done
echo "| mean group-commit batch (ops/commit) | A / B | $batchA / $batchB | | | | |"
echo "| resident memory after the runs | A / B | $((rssA / 1024)) / $((rssB / 1024)) MiB | | | | <= 9.75 MiB (1/8 of seed's 78 MB) |"
echo "| threads after the runs | A | $thrA | | | | |"
echo "| stripped binary | | $size_kb KiB | | | | < 2 MiB |"
echo "| exec to first 200 on /health, empty data dir | | $su_empty ms | | | | < 50 ms |"
echo "| same, 100,000 completed jobs | | $su_done ms | | | | < 50 ms |"
echo "| same, 100,000 pending jobs (recovery) | | $su_pend ms | | | | < 50 ms |"
echo
echo "access-log lines written by A: $logA"
echo
echo "| microbenchmark | name | real time | CPU time | |"
echo "|---|---|---|---|---|"
printf '%s' "$micro_out" | grep -v '^$' || true
