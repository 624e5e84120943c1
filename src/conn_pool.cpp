#include "conn_pool.hpp"
#include "thread_name.hpp"

#include <algorithm>
#include <memory>
#include <system_error>

namespace mlgate {
namespace {
thread_local bool t_waited = false;
}

bool ConnPool::waited() { return t_waited; }

ConnPool::Thread::Thread(size_t stack_bytes, std::function<void()> fn) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, std::max<size_t>(stack_bytes, PTHREAD_STACK_MIN));
  auto arg = std::make_unique<std::function<void()>>(std::move(fn));
  int rc = pthread_create(
      &id_, &attr,
      [](void* p) -> void* {
        std::unique_ptr<std::function<void()>> f(static_cast<std::function<void()>*>(p));
        (*f)();
        return nullptr;
      },
      arg.get());
  pthread_attr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create");
  arg.release();  // the thread owns it now
}

ConnPool::Thread::~Thread() { pthread_join(id_, nullptr); }

void ConnPool::enqueue(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (shutdown_) return;  // the library closes the socket when fn is dropped
  reap_finished();
  // Idle threads not yet spoken for: each queued task will take one (an
  // idle thread notified for an earlier task may not have woken yet).
  const bool idle_free = idle_ > tasks_.size();
  const size_t pool_threads = threads_.size() - overflow_running_;
  const bool at_cap = !idle_free && pool_threads >= max_;
  // A thread that cannot be created (out of memory, a task limit) leaves
  // the connection queued: it is answered when a thread is free.
  if (at_cap && overflow_running_ < overflow_max_) {
    try {
      threads_.emplace_back(stack_, [this, f = fn]() mutable {
        set_thread_name("mlg-overflow");
        overflow(std::move(f));
      });
      ++overflow_running_;
      return;
    } catch (const std::system_error&) {
    }
  }
  tasks_.push_back({std::move(fn), at_cap});
  if (idle_free) {
    cv_.notify_one();
  } else if (!at_cap) {
    try {
      threads_.emplace_back(stack_, [this] {
        set_thread_name("mlg-http");
        worker();
      });
    } catch (const std::system_error&) {
    }
  }
}

// One connection refused with 503 (the server checks waited()), then exit.
void ConnPool::overflow(std::function<void()> fn) {
  t_waited = true;
  fn();
  t_waited = false;
  std::lock_guard lock(mu_);
  --overflow_running_;
  if (!shutdown_) finished_.push_back(pthread_self());
}

void ConnPool::shutdown() {
  std::list<Thread> threads;
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

void ConnPool::reap_finished() {
  for (auto id : finished_) {
    auto it = std::find_if(threads_.begin(), threads_.end(),
                           [&](const Thread& t) { return pthread_equal(t.id(), id); });
    // It has returned from worker(): the join in erase() is immediate.
    if (it != threads_.end()) threads_.erase(it);
  }
  finished_.clear();
}

void ConnPool::worker() {
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
  if (!shutdown_) finished_.push_back(pthread_self());
}

}  // namespace mlgate
