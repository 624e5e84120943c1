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

#include "rate_limiter.hpp"

namespace mlgate {

struct MetricsView {  // gauges read at scrape time
  size_t unfinished = 0, queued = 0, running = 0, keys = 0, conn_threads = 0, waiting = 0;
  uint64_t commits = 0, committed_ops = 0, log_dropped = 0;
  uint64_t worker_errors_claim = 0, worker_errors_model = 0, worker_errors_record = 0;
  LimiterStats limiter;
  size_t limiter_capacity = 0;
};

class Metrics {
 public:
  std::atomic<uint64_t> jobs_accepted{0}, jobs_finished{0}, rate_limited{0},
      auth_failures{0}, queue_full{0}, waits_declined{0};

  uint64_t next_request_id() { return request_ids_.fetch_add(1, std::memory_order_relaxed) + 1; }
  void count_response(int status);
  std::string render(const MetricsView& v) const;

 private:
  std::atomic<uint64_t> request_ids_{0};
  std::array<std::atomic<uint64_t>, 6> by_class_{};  // index status/100 (1xx..5xx), 0: other
};

// Lets a request thread wait for one job's outcome. expect() before the job
// is handed to the workers, so a fast job cannot finish unobserved.
class JobWaiters {
 public:
  struct Waiter {
    bool done = false;
  };
  using Token = std::pair<int64_t, std::shared_ptr<Waiter>>;

  Token expect(int64_t seq);
  // True when notify() came for the job within `timeout`; false at the
  // timeout or once close() was called. Always forgets the token.
  bool wait(const Token& t, std::chrono::milliseconds timeout);
  void notify(int64_t seq);
  // Wakes every waiter, and every later wait() returns at once (shutdown).
  void close();

 private:
  std::mutex mu_;  // guards waiting_, closed_ and every Waiter::done
  std::condition_variable cv_;
  std::unordered_multimap<int64_t, std::shared_ptr<Waiter>> waiting_;
  bool closed_ = false;
};

}  // namespace mlgate
