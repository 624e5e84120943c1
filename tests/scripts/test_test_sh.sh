#!/usr/bin/env bash
# scripts/quickstart.sh then scripts/test.sh, the README's order, must run
# the tests: the quick start once cached MLGATE_TESTS=OFF in build/, and the
# test script reused it, ran no test and exited 0. And ctest must fail when
# it finds no test at all.
source "$(dirname "$0")/lib.sh"

# What the quick start's configure left in build/ before the fix.
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DMLGATE_TESTS=OFF -DMLGATE_BENCH=OFF >/dev/null

# ctest is run by the script as it is, but told to list the tests (-N) rather
# than run them: the binaries were not built here.
real_ctest=$(command -v ctest)
cat >"$root/stub-bin/ctest" <<STUB
#!/usr/bin/env bash
printf '%s\n' "\$@" >"$root/ctest-args"
exec "$real_ctest" -N "\$@"
STUB
chmod +x "$root/stub-bin/ctest"
out=$("$root/scripts/test.sh" 2>&1) || fail "scripts/test.sh failed: $out"
grep -q 'unit.test_config' <<<"$out" || fail "scripts/test.sh ran without the tests: $out"
grep -q 'e2e.test_keys' <<<"$out" || fail "scripts/test.sh ran without the end-to-end tests: $out"

# With no test registered, the same ctest command must fail.
cmake -S "$root" -B "$root/build-none" -DMLGATE_TESTS=OFF -DMLGATE_BENCH=OFF >/dev/null
mapfile -t args <"$root/ctest-args"
if (cd "$root/build-none" && "$real_ctest" "${args[@]}" >/dev/null 2>&1); then
  fail "ctest ${args[*]} passes with no test registered"
fi
echo "ok: scripts/test.sh configures the tests on and ctest refuses an empty run"
