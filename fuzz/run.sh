#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: builds the libFuzzer targets (clang-14,
# AddressSanitizer + UndefinedBehaviorSanitizer, in build-fuzz/) and runs
# each for SECONDS, then prints executions, coverage and crashes per
# target. Exit status 1 when any target crashed (its input is kept under
# build-fuzz/artifacts/TARGET/ and the line names it).
#
# Every target in fuzz/CMakeLists.txt runs unless TARGETs are named. Each
# grows its own corpus in build-fuzz/corpus/TARGET (kept between runs, so
# runs add up), seeded from fuzz/corpus/TARGET, with the dictionaries and
# maximum input length its source names ("// fuzz-dict:", "// fuzz-max-len:").
#
# Environment:
#   MLGATE_FUZZ_JOBS=N    targets run N at a time (default 1)
#   MLGATE_FUZZ_RUNS=N    stop a target after N executions (default: time only)
#   MLGATE_FUZZ_NICE=N    run the fuzzers under `nice -n N` (default 0)
#   MLGATE_FUZZ_BUILD=DIR the build directory (default build-fuzz)
#   MLGATE_FUZZ_BUILD_ONLY=1  build the targets, run none
# Every run appends its figures to DIR/fuzz-ledger.tsv (date, target,
# seconds the run took, executions, cov, ft, crashes), so long campaigns
# can be totalled. (Rows written up to 2026-11-30 09:34 UTC hold the
# run's time limit in the seconds column, not the time it took.)
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 1)) && [[ $1 =~ ^[0-9]+$ ]] || { echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2; exit 2; }
secs=$1
shift
build=${MLGATE_FUZZ_BUILD:-build-fuzz}
jobs=${MLGATE_FUZZ_JOBS:-1}
niceness=${MLGATE_FUZZ_NICE:-0}

scripts/deps.sh --fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
  # -O1 -g1 as libFuzzer recommends (line tables for the stack traces);
  # assertions stay on. Only the fuzz targets and the core are built.
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -DMLGATE_FUZZ=ON -DMLGATE_TESTS=OFF \
    -DMLGATE_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
fi
nice -n "$niceness" cmake --build "$build" -j"$(nproc)" --target fuzz_targets >/dev/null
# MLGATE_FUZZ_BUILD_ONLY=1: stop here (.ci/run builds ahead while the tests run).
[[ -z ${MLGATE_FUZZ_BUILD_ONLY:-} ]] || exit 0

targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(sed -n 's/^mlgate_fuzz_target(\([a-z_0-9]*\)).*/\1/p' fuzz/CMakeLists.txt)
fi

run_one() {
  local t=$1 out=$build/logs/$1.log
  local src=fuzz/$t.cpp bin=$build/fuzz/fuzz_$t
  [[ -x $bin ]] || { echo "$t: no such fuzz target" > "$out"; return; }
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t" "$build/dict"
  local args=(-max_total_time="$secs" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048
              -artifact_prefix="$build/artifacts/$t/")
  [[ -n ${MLGATE_FUZZ_RUNS:-} ]] && args+=(-runs="$MLGATE_FUZZ_RUNS")
  local dicts len
  dicts=$(sed -n 's,^// fuzz-dict: *,,p' "$src")
  len=$(sed -n 's,^// fuzz-max-len: *,,p' "$src")
  if [[ -n $dicts ]]; then
    local d
    : > "$build/dict/$t.dict"
    for d in $dicts; do cat "fuzz/dict/$d.dict" >> "$build/dict/$t.dict"; done
    args+=(-dict="$build/dict/$t.dict")
  fi
  [[ -n $len ]] && args+=(-max_len="$len")
  # Crashes, leaks, timeouts and out-of-memory inputs (not slow-unit-*,
  # which a busy machine produces and which break no property).
  local before
  before=$(find "$build/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l)
  local started=$SECONDS
  nice -n "$niceness" "$bin" "${args[@]}" "$build/corpus/$t" "fuzz/corpus/$t" > "$out" 2>&1 || true
  local execs cov ft crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$out" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$out" | tail -1 | cut -d' ' -f2)
  crashes=$(( $(find "$build/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l) - before ))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$((SECONDS - started))" "${execs:-0}" \
    "${cov:-0}" "${ft:-0}" "$crashes" >> "$build/fuzz-ledger.tsv"
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${execs:-0}" "${cov:-0}" "${ft:-0}" "$crashes" > "$out.row"
}

mkdir -p "$build/logs"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

status=0
printf '%-18s %12s %7s %7s %8s\n' target executions cov ft crashes
for t in "${targets[@]}"; do
  if [[ ! -f $build/logs/$t.log.row ]]; then
    printf '%-18s %s\n' "$t" "did not run: $(cat "$build/logs/$t.log")"
    status=1
    continue
  fi
  IFS=$'\t' read -r _ execs cov ft crashes < "$build/logs/$t.log.row"
  printf '%-18s %12s %7s %7s %8s\n' "$t" "$execs" "$cov" "$ft" "$crashes"
  if ((crashes > 0)) || ((execs == 0)); then
    status=1
    grep -m3 -E 'property failed|ERROR: |SUMMARY' "$build/logs/$t.log" | sed 's/^/    /'
    echo "    input: $(ls -t "$build/artifacts/$t"/* 2>/dev/null | grep -v slow-unit | head -1)  log: $build/logs/$t.log"
  fi
  rm -f "$build/logs/$t.log.row"
done
exit $status
