#!/usr/bin/env bash
# scripts/quickstart.sh: its banner names the address really served (it
# said http://127.0.0.1:8000 whatever --port was given), the key it prints
# works there, and a bad flag stops it with one line, creating nothing.
source "$(dirname "$0")/lib.sh"
export MLGATE_DATA_DIR="$root/state"

out=$("$root/scripts/quickstart.sh" --port nope 2>&1) && fail "a bad --port was accepted"
[[ $(wc -l <<<"$out") == 1 ]] || fail "a bad flag gave more than one line: $out"
grep -q -- '--port' <<<"$out" || fail "the error does not name --port: $out"
[[ ! -e $root/state ]] || fail "a bad flag created the data folder"

# A port nobody listens on, below the kernel's ephemeral range (32768 and
# up by default), where the other tests' servers (port 0) and every client
# socket get theirs; retried with another port if it was taken meanwhile.
log="$root/quickstart.log"
for attempt in 1 2 3; do
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 12000))
    curl -s -o /dev/null "http://127.0.0.1:$port/" || break
  done
  "$root/scripts/quickstart.sh" --port "$port" --host 127.0.0.1 2>"$log" &
  pids+=($!)
  pid=$!
  for _ in $(seq 300); do
    grep -q '"msg":"listening"' "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q '"msg":"listening"' "$log" && break
  grep -q "cannot listen on 127.0.0.1:$port" "$log" || fail "quickstart.sh exited: $(cat "$log")"
done
grep -q '"msg":"listening"' "$log" || fail "the server did not start: $(cat "$log")"
grep -q "starting on http://127.0.0.1:$port " "$log" || fail "the banner does not name port $port: $(head -12 "$log")"
grep -q "curl -s -X POST http://127.0.0.1:$port/predict" "$log" || fail "the example does not use port $port"
grep -q ':8000' "$log" && fail "the banner still names port 8000"
key=$(cat "$root/state/quickstart-key")
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/predict" \
  -H "X-API-Key: $key" -H 'Content-Type: application/json' -d '{"text": "mlgate is a good little server"}')
[[ $status == 202 ]] || fail "the printed key got $status, not 202"
echo "ok: the banner names port $port and its key works there"
