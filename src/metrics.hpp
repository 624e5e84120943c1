// metrics.hpp: the server's counters and their Prometheus text form, and
// the waiters of `Prefer: wait=N`.
//
// Counters are relaxed atomics: each is exact, but a scrape may see one
// counter a little ahead of another. Thread-safe throughout.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "limiter.hpp"
#include "routes.hpp"

namespace mlgate {

struct MetricsView {  // gauges read at scrape time
  size_t unfinished = 0, queued = 0, running = 0, keys = 0, conn_threads = 0, waiting = 0;
  uint64_t commits = 0, committed_ops = 0, log_dropped = 0;
  uint64_t worker_errors_claim = 0, worker_errors_model = 0, worker_errors_record = 0;
  LimiterStats limiter;
};

// Upper bounds of the request latency histogram's buckets, in nanoseconds
// (0.5 ms to 30 s; +Inf is implied). Fixed, so an observation is a short
// scan and two relaxed atomic adds, with no lock and no allocation.
inline constexpr std::array<int64_t, 15> kLatencyBoundsNs = {
    500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,
    25'000'000,  50'000'000,  100'000'000,   250'000'000,   500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000};

class Metrics {
 public:
  std::atomic<uint64_t> jobs_accepted{0}, jobs_finished{0}, rate_limited{0},
      auth_failures{0}, queue_full{0}, waits_declined{0};

  uint64_t next_request_id() { return request_ids_.fetch_add(1, std::memory_order_relaxed) + 1; }
  void count_response(int status);
  // One answered request: `route` is a RouteId's value, or kRouteCount for
  // a request that matched no route. Statuses outside 100-599 are ignored.
  void observe(size_t route, int status, int64_t elapsed_ns);
  // The Prometheus text: the counters, the latency histogram (series that
  // have seen a request), process_* figures from /proc, the gauges in `v`,
  // and mlgate_build_info.
  std::string render(const MetricsView& v) const;

 private:
  struct LatencyCell {  // one (route, status class) series
    std::array<std::atomic<uint64_t>, kLatencyBoundsNs.size() + 1> buckets{};  // last: +Inf
    std::atomic<uint64_t> sum_ns{0};
  };
  std::atomic<uint64_t> request_ids_{0};
  std::array<std::atomic<uint64_t>, 6> by_class_{};  // index status/100 (1xx..5xx), 0: other
  std::array<std::array<LatencyCell, 5>, kRouteCount + 1> latency_{};  // [route][class 1xx..5xx]
};

}  // namespace mlgate
