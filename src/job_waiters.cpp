// job_waiters.cpp: see job_waiters.hpp.
#include "job_waiters.hpp"

namespace mlgate {

JobWaiters::Token JobWaiters::expect(int64_t seq) {
  auto w = std::make_shared<Waiter>();
  std::lock_guard lock(mu_);
  waiting_.emplace(seq, w);
  return {seq, w};
}

bool JobWaiters::wait(const Token& t, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return t.second->done || closed_; });
  bool done = t.second->done;
  auto range = waiting_.equal_range(t.first);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == t.second) {
      waiting_.erase(it);
      break;
    }
  }
  return done;
}

void JobWaiters::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

void JobWaiters::notify(int64_t seq) {
  {
    std::lock_guard lock(mu_);
    auto range = waiting_.equal_range(seq);
    if (range.first == range.second) return;
    for (auto it = range.first; it != range.second; ++it) it->second->done = true;
  }
  cv_.notify_all();
}

}  // namespace mlgate
