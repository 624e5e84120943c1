# lib.sh: shared set-up of the script tests (sourced, not run).
#
# The README's two commands are run as a user runs them, from a scratch
# checkout: the source files are linked into a temporary folder, and the
# scripts are copied in next to them. Two things are replaced, both to keep
# a test within seconds: scripts/deps.sh (apt; the packages are already
# there, or this build would not exist) does nothing, and `cmake --build`
# copies the binary under test instead of compiling for minutes. Every
# configure step runs the real cmake, and ctest is the real one.
set -euo pipefail
src=${1:?usage: $0 SOURCE_DIR MLGATE_BINARY}
bin=${2:?usage: $0 SOURCE_DIR MLGATE_BINARY}
root=$(mktemp -d "${TMPDIR:-/tmp}/mlgate-script-test.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$root"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for f in CMakeLists.txt cmake src tests main.cpp bench data packaging fuzz examples; do
  [[ -e $src/$f ]] && ln -s "$src/$f" "$root/$f"
done
mkdir "$root/scripts" "$root/stub-bin"
cp "$src/scripts/test.sh" "$src/scripts/quickstart.sh" "$root/scripts/"
printf '#!/bin/sh\nexit 0\n' >"$root/scripts/deps.sh"
real_cmake=$(command -v cmake)
cat >"$root/stub-bin/cmake" <<STUB
#!/usr/bin/env bash
if [[ \${1:-} == --build ]]; then cp "$bin" "\$2/mlgate"; exit 0; fi
exec "$real_cmake" "\$@"
STUB
chmod +x "$root/stub-bin/cmake" "$root/scripts/deps.sh"
export PATH="$root/stub-bin:$PATH"
