#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout to a running server:
# installs the build dependencies, builds mlgate (Release), creates the data
# folder ./mlgate-data, creates an API key the first time and prints it,
# then serves on http://127.0.0.1:8000 until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=OFF -DMLGATE_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mlgate >/dev/null
data=${MLGATE_DATA_DIR:-./mlgate-data}
mkdir -p "$data"
if [[ ! -s $data/quickstart-key ]]; then
  (umask 077; build/mlgate keys create --name quickstart --tier premium --data-dir "$data" >"$data/quickstart-key")
fi
key=$(cat "$data/quickstart-key")
cat >&2 <<MSG

  mlgate is starting on http://127.0.0.1:8000 with data in $data
  your API key (kept in $data/quickstart-key, readable only by you):

    $key

  try:  curl -s -X POST http://127.0.0.1:8000/predict -H "X-API-Key: $key" \\
          -H 'Content-Type: application/json' -d '{"text": "mlgate is a good little server"}'

MSG
exec build/mlgate serve --data-dir "$data" "$@"
