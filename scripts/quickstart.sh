#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to a running server:
# installs the build dependencies, builds mlgate (Release), creates the data
# folder (./mlgate-data, or $MLGATE_DATA_DIR) and an API key the first time
# and prints it, then serves until Ctrl-C. Arguments go to `mlgate serve`
# (scripts/quickstart.sh --port 19501); the banner shows the address they
# give, as `mlgate serve --dry-run` resolves it with the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# Only the mlgate target is built. MLGATE_TESTS is left as it is: setting it
# OFF here once made a later scripts/test.sh, which shares build/, run no test.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMLGATE_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mlgate >/dev/null
mlgate=build/mlgate
# A bad flag stops here, with mlgate's one line, before anything is created.
conf=$("$mlgate" serve --data-dir "${MLGATE_DATA_DIR:-./mlgate-data}" "$@" --dry-run)
field() {  # a top-level string or number of the resolved configuration
  sed -n -e 's/^  "'"$1"'": "\(.*\)",\{0,1\}$/\1/p' -e 's/^  "'"$1"'": \([0-9]*\),\{0,1\}$/\1/p' <<<"$conf"
}
host=$(field host) port=$(field port) data=$(field data_dir) cert=$(field tls_cert)
scheme=http
[[ -n $cert ]] && scheme=https
# What a client on this machine connects to: the wildcard addresses listen
# on every interface, loopback included.
client_host=$host
[[ $host == 0.0.0.0 ]] && client_host=127.0.0.1
[[ $host == :: ]] && client_host=::1
[[ $client_host == *:* ]] && client_host="[$client_host]"
[[ $host == *:* ]] && host="[$host]"
if [[ $port == 0 ]]; then
  where="$scheme://$host on a port the kernel picks (the \"listening\" log line below names it)"
  url="$scheme://$client_host:PORT"
else
  where="$scheme://$host:$port"
  url="$scheme://$client_host:$port"
fi
if [[ ! -s $data/quickstart-key ]]; then
  mkdir -p "$data"
  # --init: the one admin command that may create the database (the first key
  # comes before the server's first start).
  (umask 077; "$mlgate" keys create --init --name quickstart --tier premium --data-dir "$data" \
     >"$data/quickstart-key")
fi
key=$(cat "$data/quickstart-key")
cat >&2 <<MSG

  mlgate is starting on $where with data in $data
  your API key (kept in $data/quickstart-key, readable only by you):

    $key

  try:  curl -s -X POST $url/predict -H "X-API-Key: $key" \\
          -H 'Content-Type: application/json' -d '{"text": "mlgate is a good little server"}'

MSG
exec "$mlgate" serve --data-dir "$data" "$@"
