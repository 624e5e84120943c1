// process_stats.hpp: this process's figures for /metrics (the process_*
// names every Prometheus client library exports), read from /proc/self.
//
// Contract: reads only the process's own /proc entries, which stay visible
// under the unit's ProtectProc=invisible and ProcSubset=pid; the start time
// comes from the boot-time clock rather than /proc/stat, which
// ProcSubset=pid hides. A figure that cannot be read is left at -1.
#pragma once

#include <cstdint>

namespace mlgate {

struct ProcessStats {
  double cpu_seconds = -1;          // user + system
  double start_time_seconds = -1;   // Unix time
  int64_t resident_bytes = -1, virtual_bytes = -1;
  int64_t open_fds = -1, max_fds = -1;
};

ProcessStats read_process_stats();

}  // namespace mlgate
