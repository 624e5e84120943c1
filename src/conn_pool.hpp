// conn_pool.hpp: the task queue that serves HTTP connections.
//
// cpp-httplib runs each accepted connection as one task on this queue, and
// mlgate's connection loop (conn_loop.hpp) then serves it on that thread. A
// fixed pool lets a handful of slow clients take every thread; so this pool
// grows a thread per connection on demand, up to `max_threads`, and idle
// threads exit after 30 s so memory returns to the base. An idle thread
// sleeps on a condition variable: it costs no CPU.
//
// A connection that arrives while all `max_threads` are busy is served at
// once by a short-lived overflow thread (at most `overflow_threads` of
// them) on which waited() is true, so the loop answers 503 and closes,
// instead of making it wait behind slow clients. Only when the overflow
// threads are busy too does a connection wait in the queue (and it is
// answered 503 when a thread takes it). Threads: at most max + overflow.
//
// Threads are created with `stack_bytes` of stack (std::thread cannot set
// one; the default is the 8 MiB of RLIMIT_STACK): a connection needs far
// less, see kConnThreadStack.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <httplib.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <vector>

namespace mlgate {

// The stack of a connection thread. Measured with mincore() when each
// thread exited, over every end-to-end test (TLS included) and the
// 1,000-connection benchmark: at most 16 KiB resident, glibc's thread
// descriptor included. The deepest known path is libstdc++'s std::regex,
// which recurses per input character, on a Range header (at most 8 KiB,
// the library's line limit); 256 KiB leaves a wide margin over it.
// Sanitizers put every frame in a larger one (ASan's redzones, TSan's
// shadow), so their builds get 4 MiB. Only touched pages are resident.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr size_t kConnThreadStack = 4u << 20;
#else
inline constexpr size_t kConnThreadStack = 256u << 10;
#endif

class ConnPool : public httplib::TaskQueue {
 public:
  ConnPool(size_t max_threads, size_t overflow_threads, size_t stack_bytes = kConnThreadStack)
      : max_(max_threads), overflow_max_(overflow_threads), stack_(stack_bytes) {}
  ~ConnPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

  size_t threads() const;  // pool and overflow threads
  // True on the current thread while it serves a connection that arrived
  // when every pool thread was busy (overflow thread, or queued).
  static bool waited();

 private:
  // A joinable thread with a chosen stack size; joins when destroyed.
  class Thread {
   public:
    Thread(size_t stack_bytes, std::function<void()> fn);  // throws std::system_error
    ~Thread();
    Thread(const Thread&) = delete;
    Thread& operator=(const Thread&) = delete;
    pthread_t id() const { return id_; }

   private:
    pthread_t id_;
  };
  struct Task {
    std::function<void()> fn;
    bool waited;
  };
  void worker();
  void overflow(std::function<void()> fn);
  void reap_finished();  // joins threads that have exited; mu_ held

  const size_t max_, overflow_max_, stack_;
  static constexpr auto kIdleExit = std::chrono::seconds(30);

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::list<Thread> threads_;
  std::vector<pthread_t> finished_;
  size_t idle_ = 0;
  size_t overflow_running_ = 0;  // overflow threads, each in threads_ too
  bool shutdown_ = false;
};

}  // namespace mlgate
