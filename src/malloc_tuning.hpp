// malloc_tuning.hpp: glibc malloc settings for a long-running server process.
//
// - Trim threshold fixed at 1 MiB: with the default (128 KiB, adjusted at run
//   time) the job store's writer thread gave memory back with madvise() after
//   nearly every commit (5,800 calls in 6 s of POST load), and each call
//   flushes the TLB of every core running the process (measured: 6% of all
//   CPU samples under load). Up to 1 MiB of free memory per arena is kept.
// - At most 2 arenas per core instead of 8: one thread per connection would
//   otherwise spread the heap over up to 16 arenas on this 2-core device,
//   each keeping its own free memory.
// Called once at the start of main(), before any thread exists.
#pragma once

#include <malloc.h>
#include <unistd.h>

namespace mlgate {

inline void tune_malloc() {
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  mallopt(M_ARENA_MAX, static_cast<int>(cores > 0 ? 2 * cores : 2));
}

}  // namespace mlgate
