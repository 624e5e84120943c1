#!/usr/bin/env bash
# bench/pg.sh: keys and jobs in PostgreSQL against the embedded SQLite file,
# in one run on this machine. Builds mlgate in Release (build-bench/, as
# bench/run.sh), makes a PostgreSQL 15 cluster in a temporary directory
# (Unix socket only, fsync and synchronous_commit on: a 202 is as durable
# as on SQLite), and prints one Markdown table (date, command, nproc, load):
#   S   one instance on the SQLite file (the default)
#   P1  one instance on PostgreSQL
#   P2  two instances on the same PostgreSQL database, loaded together
# Scenarios, interleaved S/P1/P2 in each round, median of ROUNDS:
#   durable POST /predict (post_predict.lua: each 202 a committed row),
#   GET /jobs/{id} (get_job.lua), and jobs completed a second: the jobs the
#   POST run accepted, divided by the time from its start until every one
#   of them has finished (workers of every instance; the built-in model).
# PostgreSQL, mlgate and wrk share the machine's cores.
#
# usage: bench/pg.sh [SECONDS_PER_RUN] [ROUNDS]      (defaults 5 and 3)
#   BENCH_SKIP_BUILD=1   use the existing build-bench/
#   BENCH_CONNS=32       wrk connections in all (-c; two instances get half each)
# needs: wrk, curl, python3, PostgreSQL 15 (scripts/deps.sh --bench installs them).
set -euo pipefail
secs=${1:-5}; rounds=${2:-3}
conns=${BENCH_CONNS:-32}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"
bin="$build/mlgate"
pgbin=/usr/lib/postgresql/15/bin

for t in wrk curl python3 psql "$pgbin/postgres"; do
  command -v "$t" >/dev/null || { echo "pg.sh: $t missing (scripts/deps.sh --bench)" >&2; exit 2; }
done
if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=OFF -DMLGATE_BENCH=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target mlgate >"$build.log" 2>&1 ||
    { tail -30 "$build.log" >&2; echo "pg.sh: build failed" >&2; exit 1; }
fi

work=$(mktemp -d); pids=(); pgpid=
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  [[ -n $pgpid ]] && kill -INT "$pgpid" 2>/dev/null && sleep 1
  { wait; } 2>/dev/null || true
  rm -rf "$work"
}
trap 'cleanup 2>/dev/null' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, wait_up, load, median

# PostgreSQL refuses root: as root, the cluster is the postgres user's.
pgdir="$work/pg"; mkdir -p "$pgdir"; chmod 700 "$pgdir"
as_pg=()
if [[ $(id -u) == 0 ]]; then
  owner=postgres; id postgres >/dev/null 2>&1 || owner=nobody
  chown "$owner" "$work" "$pgdir"
  as_pg=(setpriv "--reuid=$owner" "--regid=$owner" --clear-groups --)
fi
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U mlgate --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pgbin/postgres" -D "$pgdir/data" -k "$pgdir" -c listen_addresses= -c max_connections=200 \
  -c shared_buffers=128MB >"$work/pg.log" 2>&1 &
pgpid=$!
for _ in $(seq 200); do psql -X -q "host=$pgdir user=mlgate dbname=postgres" -c 'select 1' >/dev/null 2>&1 && break; sleep 0.05; done
psql -X -q "host=$pgdir user=mlgate dbname=postgres" -c 'CREATE DATABASE p1' -c 'CREATE DATABASE p2'
url() { echo "postgresql://mlgate@/$1?host=$pgdir"; }

common=(--host 127.0.0.1 --limit-ip 1000000000/s --tier bench=1000000000/s --limit-poll 1000000000/s
        --queue-max 10000000 --access-log false)
declare -A port dir key jobid db
start() { # name extra-flags...
  local n=$1; shift
  port[$n]=$(free_port); dir[$n]="$work/$n"
  "$bin" serve "${common[@]}" --port "${port[$n]}" --data-dir "${dir[$n]}" "$@" 2>"$work/$n.log" >/dev/null &
  pids+=($!)
}
start S
start P1 --database "$(url p1)"
start P2a --database "$(url p2)"
start P2b --database "$(url p2)"
for n in S P1 P2a P2b; do wait_up "${port[$n]}"; done
where() { case $1 in S) echo "--data-dir ${dir[S]}" ;; P1) echo "--database $(url p1)" ;; *) echo "--database $(url p2)" ;; esac; }
for n in S P1 P2a; do
  # shellcheck disable=SC2046
  key[$n]=$("$bin" keys create --name bench --tier bench --scopes predict,read,metrics $(where $n))
done
key[P2b]=${key[P2a]}
for n in S P1 P2a P2b; do
  jobid[$n]=$(curl -fs -X POST "http://127.0.0.1:${port[$n]}/predict" -H "X-API-Key: ${key[$n]}" \
    -H 'Content-Type: application/json' -d '{"text":"A good first job to poll during the benchmark"}' |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["job_uuid"])')
done

unfinished() { curl -fs "http://127.0.0.1:${port[$1]}/health" | python3 -c 'import sys, json; print(json.load(sys.stdin)["unfinished_jobs"])'; }

# One wrk run against one server; prints "requests_per_s 2xx_count".
wrk_one() { # server script conns
  local n=$1 what=$2 c=$3 out rps total bad
  out=$(BENCH_KEY=${key[$n]} BENCH_JOB=${jobid[$n]} wrk -t1 -c"$c" -d"${secs}s" \
        -s "$here/$what" "http://127.0.0.1:${port[$n]}")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "$rps $((total - ${bad:-0}))"
}
# One scenario on a configuration; prints "req/s [completed/s] load".
run() { # config script
  local cfg=$1 what=$2 t0 rps ok left ra rb oka okb done_rate
  t0=$(date +%s.%N)
  if [[ $cfg == P2 ]]; then
    wrk_one P2a "$what" $((conns / 2)) > "$work/a.out" &
    local wp=$!
    wrk_one P2b "$what" $((conns / 2)) > "$work/b.out"
    wait "$wp"
    read -r ra oka < "$work/a.out"; read -r rb okb < "$work/b.out"
    rps=$(awk -v x="$ra" -v y="$rb" 'BEGIN {print x + y}'); ok=$((oka + okb))
  else
    read -r rps ok < <(wrk_one "$cfg" "$what" "$conns")
  fi
  if [[ $what == post_predict.lua ]]; then
    # Until every accepted job has finished (any instance's workers).
    local probe=$cfg; [[ $cfg == P2 ]] && probe=P2a
    for _ in $(seq 6000); do left=$(unfinished "$probe"); ((left == 0)) && break; sleep 0.05; done
    done_rate=$(awk -v n="$ok" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {printf "%.0f", n / (t1 - t0)}')
    echo "$rps $done_rate $(load)"
  else
    echo "$rps - $(load)"
  fi
}

declare -A res
for ((r = 0; r < rounds; r++)); do
  for what in post_predict.lua get_job.lua; do
    for cfg in S P1 P2; do res[$what:$cfg]+="$(run "$cfg" "$what")"$'\n'; done
  done
done

col() { awk -v c="$2" 'NF {print $c}' <<<"${res[$1]}" | median; }
echo
echo "## mlgate bench/pg.sh — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "command: \`bench/pg.sh $secs $rounds\` (wrk -c$conns -d${secs}s in all, median of $rounds), nproc $(nproc), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $("$pgbin/postgres" --version)"
echo
echo "| scenario | SQLite | PostgreSQL, 1 instance | PostgreSQL, 2 instances | P1 / SQLite | load (1-min) |"
echo "|---|---|---|---|---|---|"
row() { # script column label
  local s p1 p2
  s=$(col "$1:S" "$2"); p1=$(col "$1:P1" "$2"); p2=$(col "$1:P2" "$2")
  printf '| %s | %.0f | %.0f | %.0f | %.2f | %s |\n' "$3" "$s" "$p1" "$p2" \
    "$(awk -v a="$p1" -v b="$s" 'BEGIN {print (b > 0 ? a / b : 0)}')" "$(col "$1:P2" 3)"
}
row post_predict.lua 1 "durable POST /predict (req/s)"
row post_predict.lua 2 "jobs completed (jobs/s, from the POST run's start)"
row get_job.lua 1 "GET /jobs/{id} (req/s)"
