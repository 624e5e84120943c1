#!/bin/sh
# The smallest exec model (see src/exec_model.hpp for the protocol): the label
# is the text itself, the score the length of its escaped JSON form. POSIX sh
# only (builtins: read, printf), so it runs on any Debian system:
#   mlgate serve --model exec --exec "sh examples/exec_echo_model.sh"
# mlgate's requests are always compact {"id":N,"text":"..."}, so the text's
# JSON string literal can be cut out and echoed without a JSON parser.
# (Not awk: mawk waits to fill its input buffer from a pipe and would never
# see the first request.)
while IFS= read -r line; do
  rest=${line#\{\"id\":}
  id=${rest%%,*}
  text=${rest#*,\"text\":}
  text=${text%\}}
  printf '{"id":%s,"label":%s,"score":%d,"detail":{}}\n' "$id" "$text" $((${#text} - 2))
done
