#include "conn_pool.hpp"
#include "thread_name.hpp"

#include <algorithm>

namespace mlgate {
namespace {
thread_local bool t_waited = false;
}

bool ConnPool::waited() { return t_waited; }

void ConnPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (shutdown_) return;  // the library closes the socket when fn is dropped
  reap_finished();
  // Idle threads not yet spoken for: each queued task will take one (an
  // idle thread notified for an earlier task may not have woken yet).
  const bool idle_free = idle_ > tasks_.size();
  const size_t pool_threads = threads_.size() - overflow_running_;
  const bool at_cap = !idle_free && pool_threads >= max_;
  if (at_cap && overflow_running_ < overflow_max_) {
    ++overflow_running_;
    threads_.emplace_back([this, f = std::move(fn)]() mutable {
      set_thread_name("mlg-overflow");
      overflow(std::move(f));
    });
    return;
  }
  tasks_.push_back({std::move(fn), at_cap});
  if (idle_free) {
    cv_.notify_one();
  } else if (!at_cap) {
    threads_.emplace_back([this](std::stop_token st) {
      set_thread_name("mlg-http");
      worker(st);
    });
  }
}

// One connection refused with 503 (the server checks waited()), then exit.
void ConnPool::overflow(std::function<void()> fn) {
  t_waited = true;
  fn();
  t_waited = false;
  std::lock_guard lock(mu_);
  --overflow_running_;
  if (!shutdown_) finished_.push_back(std::this_thread::get_id());
}

void ConnPool::shutdown() {
  std::list<std::jthread> threads;
  {
    std::lock_guard lock(mu_);
    shutdown_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  threads.clear();  // joins: each finishes its connection, then sees shutdown_
}

size_t ConnPool::threads() const {
  std::lock_guard lock(mu_);
  return threads_.size();
}

size_t ConnPool::queued() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void ConnPool::reap_finished() {
  for (auto id : finished_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [&](const std::jthread& t) { return t.get_id() == id; });
    if (it != threads_.end()) {
      it->join();  // it has returned from worker(): the join is immediate
      threads_.erase(it);
    }
  }
  finished_.clear();
}

void ConnPool::worker(std::stop_token) {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    bool got = cv_.wait_for(lock, kIdleExit, [&] { return shutdown_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) {
      if (shutdown_ || !got) break;  // idle too long: give the memory back
      continue;
    }
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    t_waited = task.waited;
    task.fn();
    t_waited = false;
    lock.lock();
  }
  // Not on shutdown: the thread is in threads_, and shutdown() joins it.
  if (!shutdown_) finished_.push_back(std::this_thread::get_id());
}

}  // namespace mlgate
