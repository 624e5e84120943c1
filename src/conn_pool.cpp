#include "conn_pool.hpp"

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
  bool at_cap = idle_ == 0 && threads_.size() >= max_;
  tasks_.push_back({std::move(fn), at_cap});
  if (idle_ > 0) {
    cv_.notify_one();
  } else if (threads_.size() < max_) {
    threads_.emplace_back([this](std::stop_token st) { worker(st); });
  }
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
