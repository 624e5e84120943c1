// clock.hpp: the two clocks mlgate uses, behind one seam for tests.
// Wall time (Unix milliseconds) is what is stored and shown; monotonic
// nanoseconds drive rate limits and timeouts, immune to clock steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mlgate {

inline int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

inline int64_t mono_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// RFC 3339 UTC with milliseconds: "2026-11-25T21:42:56.123Z".
std::string rfc3339(int64_t unix_ms);

}  // namespace mlgate
