// job_waiters.hpp: lets threads wait for one job's outcome in this process.
// The SQLite job store uses it for JobStore::wait_finished().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace mlgate {

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
