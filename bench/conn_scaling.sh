#!/usr/bin/env bash
# bench/conn_scaling.sh: the connection-scaling scenario of issue 11. GET
# /health with keep-alive, one request in flight per connection, from
# bench/conn_load (wrk cannot choose source addresses):
#   32 clients from one address (the baseline, as wrk -c32)
#   1,000 clients from 20 addresses 127.0.0.10-29 (50 each, under the default
#   per-address cap of 256)
# interleaved for ROUNDS rounds, medians printed; then the server's resident
# memory with 1,000 idle keep-alive connections open, per connection.
#
# usage: bench/conn_scaling.sh PATH/TO/mlgate PATH/TO/conn_load [SECONDS] [ROUNDS]
set -euo pipefail
bin=$(realpath "${1:?usage: conn_scaling.sh MLGATE CONN_LOAD [SECONDS] [ROUNDS]}")
load=$(realpath "${2:?usage: conn_scaling.sh MLGATE CONN_LOAD [SECONDS] [ROUNDS]}")
secs=${3:-5}; rounds=${4:-3}
work=$(mktemp -d); pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"  # free_port, wait_up, load, median
start() {
  port=$(free_port)
  "$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$work/data" --access-log false --keep-alive-timeout 60 \
    2>"$work/log" &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "conn_scaling: server did not start" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }

echo "# $(date -u +%FT%TZ) nproc $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg) secs $secs rounds $rounds"
start
r32=() r1000=() p32=() p1000=() busy=0
for ((r = 0; r < rounds; r++)); do
  out=$("$load" "$port" 32 1 "$secs"); echo "  32:   $out"
  r32+=("$(field requests/s <<<"$out")"); p32+=("$(field p99_ms <<<"$out")")
  out=$("$load" "$port" 1000 20 "$secs"); echo "  1000: $out"
  r1000+=("$(field requests/s <<<"$out")"); p1000+=("$(field p99_ms <<<"$out")")
  busy=$((busy + $(field 503 <<<"$out")))
done
a=$(printf '%s\n' "${r32[@]}" | median); b=$(printf '%s\n' "${r1000[@]}" | median)
echo "| clients | req/s (median of $rounds) | p99 ms |"
echo "|---|---|---|"
echo "| 32 from 1 address | $a | $(printf '%s\n' "${p32[@]}" | median) |"
echo "| 1,000 from 20 addresses | $b | $(printf '%s\n' "${p1000[@]}" | median) |"
echo "1000/32 throughput: $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.0f%%", 100 * b / a}'); 503 answers to the 1,000: $busy"
stop

# Memory: a fresh server, one request answered, then 1,000 idle connections.
start
"$load" "$port" 1 1 0.2 >/dev/null
sleep 0.5; base=$(rss_kib)
"$load" "$port" 1000 20 1 --hold 4 >/dev/null & lp=$!
sleep 3; held=$(rss_kib); wait "$lp"
threads=$(awk '/Threads/ {print $2}' "/proc/$pid/status")
echo "resident: $((base / 1024)) MiB with no connection, $((held / 1024)) MiB with 1,000 idle keep-alive connections" \
     "($threads threads): $(( (held - base) / 1000 )) KiB per connection"
