// conn_pool.hpp: the task queue that serves HTTP connections.
//
// cpp-httplib serves each connection on one thread of its task queue with
// blocking reads. A fixed pool lets a handful of slow clients (headers sent
// a byte at a time) take every thread; so this pool grows a thread per
// connection on demand, up to `max_threads`, and idle threads exit after a
// while so memory returns to the base. Connections that arrive while every
// thread is busy wait in the queue; the server answers them 503 at once
// when a thread takes them (waited() tells it so), instead of serving them
// late behind slow ones.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace mlgate {

class ConnPool : public httplib::TaskQueue {
 public:
  explicit ConnPool(size_t max_threads) : max_(max_threads) {}
  ~ConnPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t threads() const;
  size_t queued() const;
  // True on the current thread while it serves a connection that had to
  // wait for a thread (the pool was at its cap when it arrived).
  static bool waited();

 private:
  struct Task {
    std::function<void()> fn;
    bool waited;
  };
  void worker(std::stop_token st);
  void reap_finished();  // joins threads that have exited; mu_ held

  const size_t max_;
  static constexpr auto kIdleExit = std::chrono::seconds(30);

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable_any cv_;
  std::deque<Task> tasks_;
  std::list<std::jthread> threads_;
  std::vector<std::thread::id> finished_;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace mlgate
