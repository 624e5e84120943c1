// conn_pool.hpp: the task queue that serves HTTP connections.
//
// cpp-httplib serves each connection on one thread of its task queue with
// blocking reads. A fixed pool lets a handful of slow clients (headers sent
// a byte at a time) take every thread; so this pool grows a thread per
// connection on demand, up to `max_threads`, and idle threads exit after a
// while so memory returns to the base.
//
// A connection that arrives while all `max_threads` are busy is served at
// once by a short-lived overflow thread (at most `overflow_threads` of
// them) on which waited() is true, so the server answers 503 and closes,
// instead of making it wait behind slow clients. Only when the overflow
// threads are busy too does a connection wait in the queue (and it is
// answered 503 when a thread takes it). Threads: at most max + overflow.
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
  ConnPool(size_t max_threads, size_t overflow_threads)
      : max_(max_threads), overflow_max_(overflow_threads) {}
  ~ConnPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t threads() const;  // pool and overflow threads
  size_t queued() const;
  // True on the current thread while it serves a connection that arrived
  // when every pool thread was busy (overflow thread, or queued).
  static bool waited();

 private:
  struct Task {
    std::function<void()> fn;
    bool waited;
  };
  void worker(std::stop_token st);
  void overflow(std::function<void()> fn);
  void reap_finished();  // joins threads that have exited; mu_ held

  const size_t max_, overflow_max_;
  static constexpr auto kIdleExit = std::chrono::seconds(30);

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable_any cv_;
  std::deque<Task> tasks_;
  std::list<std::jthread> threads_;
  std::vector<std::thread::id> finished_;
  size_t idle_ = 0;
  size_t overflow_running_ = 0;  // overflow threads, each in threads_ too
  bool shutdown_ = false;
};

}  // namespace mlgate
