# bench/lib.sh: the helpers the benchmark scripts share (sourced, not run).

# A loopback port that is free now (not reserved: a server started on it
# a moment later almost always gets it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 10 s until a server on 127.0.0.1:PORT answers /health; exits
# the script with a message otherwise.
wait_up() {
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "${0##*/}: nothing answers on port $1" >&2
  exit 1
}

# The one-minute load average, printed beside each figure: a busy machine
# shows in it.
load() { awk '{print $1}' /proc/loadavg; }

# The median of the numbers on standard input, one a line ("nan" for none).
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
