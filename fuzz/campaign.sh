#!/usr/bin/env bash
# fuzz/campaign.sh [GOAL] [ROUND_SECONDS]: long fuzzing campaigns on a shared
# machine. In rounds, runs every target whose executions so far (summed from
# build-fuzz/fuzz-ledger.tsv) are under GOAL (default 10,000,000) for
# ROUND_SECONDS (default 1200) each, one at a time under `nice -n 19`, until
# every target has reached GOAL; prints the totals after each round. Stops
# at the first crash (fuzz/run.sh names the input).
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own session, and that session's scheduling group at nice 19: with the
# kernel's autogroups (sched_autogroup_enabled), `nice` only ranks
# processes within one session, and a campaign in its own session would
# otherwise take a fair half of the machine from everything else.
if [[ $$ != "$(ps -o sid= -p $$ | tr -d ' ')" ]]; then exec setsid --wait "$0" "$@"; fi
[[ -w /proc/self/autogroup ]] && echo 19 > /proc/self/autogroup 2>/dev/null || true
goal=${1:-10000000}
round=${2:-1200}
ledger=${MLGATE_FUZZ_BUILD:-build-fuzz}/fuzz-ledger.tsv

# target, executions, crashes: the sums over every run in the ledger.
totals() {
  [[ -f $ledger ]] || return 0
  awk -F'\t' '{ e[$2] += $4; c[$2] += $7 } END { for (t in e) printf "%s\t%d\t%d\n", t, e[t], c[t] }' "$ledger" | sort
}

while :; do
  mapfile -t all < <(sed -n 's/^mlgate_fuzz_target(\([a-z_0-9]*\)).*/\1/p' fuzz/CMakeLists.txt)
  todo=()
  for t in "${all[@]}"; do
    n=$(totals | awk -F'\t' -v t="$t" '$1 == t { print $2 }')
    ((${n:-0} < goal)) && todo+=("$t")
  done
  ((${#todo[@]} == 0)) && break
  MLGATE_FUZZ_NICE=19 fuzz/run.sh "$round" "${todo[@]}" || { echo "campaign: a target crashed" >&2; exit 1; }
  echo "== totals after this round (target, executions, crashes) =="
  totals
done
echo "== every target has reached $goal executions =="
totals
