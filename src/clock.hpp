// clock.hpp: the two clocks mlgate uses, behind one seam for tests.
// Wall time (Unix milliseconds) is what is stored and shown; monotonic
// nanoseconds drive rate limits and timeouts, immune to clock steps.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
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

// Sleeps for `d`, waking early when `st` is stopped; false when stopped.
// Its own condition variable: waiting on a shared one would swallow
// notify_one() calls meant for other waiters.
template <class Rep, class Period>
bool sleep_for(std::stop_token st, std::chrono::duration<Rep, Period> d) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_for(lock, st, d, [] { return false; });
  return !st.stop_requested();
}

// RFC 3339 UTC with milliseconds: "2026-11-25T21:42:56.123Z".
std::string rfc3339(int64_t unix_ms);

}  // namespace mlgate
