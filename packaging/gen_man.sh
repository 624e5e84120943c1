#!/bin/sh
# gen_man.sh BIN TEMPLATE OUT VERSION
# Renders mlgate(1) from TEMPLATE into OUT and OUT.gz (gzip -9n, as Debian
# wants it). The @SERVE_OPTIONS@ line becomes one entry per line of
# `BIN serve --help` that starts with "  --", so every serve flag is in the
# man page as soon as the binary has it. A help line reads
#   "  --FLAG[ ARG|[=BOOL]]   help text  [ENV_VAR]"
set -eu
bin=$1 tmpl=$2 out=$3 version=$4
opts="$out.options"
ASAN_OPTIONS=detect_leaks=0 "$bin" serve --help | awk '
  /^  --/ {
    line = substr($0, 3)
    env = ""
    if (match(line, /  \[[A-Z0-9_]+\]$/)) {
      env = substr(line, RSTART + 3, RLENGTH - 4)
      line = substr(line, 1, RSTART - 1)
    }
    cut = index(line, "  ")
    if (cut == 0) { flag = line; help = "" } else { flag = substr(line, 1, cut - 1); help = substr(line, cut) }
    sub(/^ +/, "", help)
    arg = ""; boolarg = 0
    if (index(flag, "[=")) { boolarg = 1; arg = substr(flag, index(flag, "[=") + 2); sub(/\]$/, "", arg); flag = substr(flag, 1, index(flag, "[=") - 1) }
    else if (index(flag, " ")) { arg = substr(flag, index(flag, " ") + 1); flag = substr(flag, 1, index(flag, " ") - 1) }
    gsub(/-/, "\\-", flag)
    gsub(/\\/, "\\e", help); gsub(/-/, "\\-", help)
    print ".TP"
    if (boolarg) print ".BR " flag " [=\\fI" arg "\\fR]"
    else if (arg != "") print ".BI " flag " \" " arg "\""
    else print ".B " flag
    if (help ~ /^[.\047]/) help = "\\&" help
    print help (env != "" ? " [\\fB\\%" env "\\fR]" : "")
    n++
  }
  END { if (n == 0) { print "gen_man.sh: no option lines in serve --help" > "/dev/stderr"; exit 1 } }
' > "$opts"
awk -v opts="$opts" -v version="$version" '
  $0 == "@SERVE_OPTIONS@" { while ((getline l < opts) > 0) print l; next }
  { gsub(/@VERSION@/, version); print }
' "$tmpl" > "$out"
rm -f "$opts"
gzip -9n -c "$out" > "$out.gz"
