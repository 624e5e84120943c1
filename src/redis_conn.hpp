// redis_conn.hpp: hiredis connections with deadlines, and a bounded pool.
//
// - RedisConn is one hiredis context in non-blocking mode, driven here:
//   every connect, write and read waits in ppoll() for at most what is left
//   until the caller's deadline. (Not socket timeouts: SO_RCVTIMEO counts in
//   kernel ticks, 4 ms at HZ=250, and can overshoot by two of them; ppoll
//   has a high-resolution timer.) A hiredis context is not thread-safe: a
//   connection belongs to one thread at a time (the pool lends it out).
//   After an I/O error or a timeout the connection is unusable (broken()),
//   because a late reply would be read as the answer to the next command.
// - RedisPool holds at most `max` connections, made on demand. acquire()
//   never waits past the caller's deadline, neither for an idle connection
//   nor to connect (the connect timeout is cut to what is left); the caller
//   passes the same deadline to its command. So a request waits on Redis at
//   most its command timeout, in all.
// - drop_all() closes the idle connections and marks those lent out to be
//   closed when returned; its waiters give up at once. drop_idle() closes
//   the idle ones only.
// Host names are resolved by getaddrinfo(), which no deadline bounds: give
// an address, or a name the resolver answers locally (/etc/hosts).
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis_url.hpp"

namespace mlgate {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, ReplyDeleter>;

// A reply's text (an error's message), at most 200 bytes, for a log line.
std::string redis_reply_text(const redisReply* r);

class RedisConn {
 public:
  using Clock = std::chrono::steady_clock;
  using Command = std::vector<std::string_view>;

  // Connects by `connect_deadline`, then authenticates (AUTH when the
  // target has a password), selects the database and PINGs by `deadline`.
  // nullptr on failure, with a one-line `error`; `auth_refused` is set when
  // the server refused the credentials or wants some and none were given.
  static std::unique_ptr<RedisConn> open(const RedisTarget& target,
                                         Clock::time_point connect_deadline,
                                         Clock::time_point deadline, std::string& error,
                                         bool* auth_refused = nullptr);
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  // Sends the commands in one write (pipelined) and reads one reply each,
  // all by `deadline`. On an I/O error or at the deadline returns an empty
  // vector with `error` set, and the connection is broken. Error replies
  // are replies (type REDIS_REPLY_ERROR).
  std::vector<RedisReply> pipeline(std::span<const Command> commands, Clock::time_point deadline,
                                   std::string& error);
  RedisReply command(const Command& args, Clock::time_point deadline, std::string& error);

  bool broken() const { return broken_; }
  // Broken because the server closed or reset the connection (not a
  // timeout): an idle connection Redis let go (its `timeout` setting), or a
  // restarted server; worth one retry on a new connection.
  bool closed_by_peer() const { return broken_ && closed_by_peer_; }
  // Commands answered since open() returned.
  uint64_t uses() const { return uses_; }

  uint64_t generation = 0;  // the pool's generation when made

 private:
  explicit RedisConn(redisContext* c) : ctx_(c) {}
  // Waits until the socket is ready for `events` or the deadline passes.
  bool wait(short events, Clock::time_point deadline, std::string& error);
  void set_broken(std::string& error, std::string why);
  redisContext* ctx_;
  bool broken_ = false, closed_by_peer_ = false;
  uint64_t uses_ = 0;
};

class RedisPool {
 public:
  RedisPool(RedisTarget target, std::chrono::microseconds connect_timeout, size_t max);
  ~RedisPool();

  // A connection, or nullptr with `error` when none could be had by
  // `deadline` (which the caller's command must keep too).
  std::unique_ptr<RedisConn> acquire(RedisConn::Clock::time_point deadline, std::string& error);
  // Takes a connection back (a broken or outdated one is closed).
  void release(std::unique_ptr<RedisConn> c);
  void drop_all();
  void drop_idle();

 private:
  const RedisTarget target_;
  const std::chrono::microseconds connect_timeout_;
  const size_t max_;
  std::mutex mu_;  // guards idle_, open_, generation_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RedisConn>> idle_;
  size_t open_ = 0;  // idle and lent out
  uint64_t generation_ = 0;
};

}  // namespace mlgate
