#include "process_stats.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace mlgate {
namespace {

double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

ProcessStats read_process_stats() {
  ProcessStats s;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const int64_t page = sysconf(_SC_PAGESIZE);

  // /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and
  // parentheses, so fields are counted from the last ')'. After it come
  // field 3 (state) onwards: utime is 14, stime 15, starttime 22 (proc(5)).
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream in(line.substr(close + 1));
      std::string field;
      unsigned long long utime = 0, stime = 0, start = 0;
      bool ok = true;
      for (int n = 3; n <= 22 && ok; ++n) {
        ok = static_cast<bool>(in >> field);
        if (!ok) break;
        if (n == 14) utime = std::stoull(field);
        if (n == 15) stime = std::stoull(field);
        if (n == 22) start = std::stoull(field);
      }
      if (ok && ticks > 0) {
        s.cpu_seconds = static_cast<double>(utime + stime) / ticks;
        // starttime counts ticks since boot on the boot-time clock.
        s.start_time_seconds = clock_seconds(CLOCK_REALTIME) - clock_seconds(CLOCK_BOOTTIME) +
                               static_cast<double>(start) / ticks;
      }
    }
  }

  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    long long size = 0, resident = 0;
    if (std::fscanf(f, "%lld %lld", &size, &resident) == 2) {
      s.virtual_bytes = size * page;
      s.resident_bytes = resident * page;
    }
    std::fclose(f);
  }

  if (DIR* d = opendir("/proc/self/fd")) {
    int64_t n = 0;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
    s.open_fds = n - 1;  // not the descriptor this listing itself holds
  }

  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    s.max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(rl.rlim_cur);
  return s;
}

}  // namespace mlgate
