// redis_conn.cpp: see redis_conn.hpp.
#include "redis_conn.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mlgate {

namespace {

using Clock = RedisConn::Clock;

std::string context_error(const redisContext* c) {
  return c->errstr[0] ? std::string(c->errstr) : std::string("connection lost");
}

}  // namespace

std::string redis_reply_text(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len).substr(0, 200) : std::string();
}

RedisConn::~RedisConn() { redisFree(ctx_); }

void RedisConn::set_broken(std::string& error, std::string why) {
  broken_ = true;
  closed_by_peer_ = ctx_->err == REDIS_ERR_EOF ||
                    (ctx_->err == REDIS_ERR_IO && (why == std::strerror(ECONNRESET) ||
                                                   why == std::strerror(EPIPE)));
  error = std::move(why);
}

bool RedisConn::wait(short events, Clock::time_point deadline, std::string& error) {
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      set_broken(error, "timed out");
      return false;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    pollfd p{ctx_->fd, events, 0};
    const int n = ppoll(&p, 1, &ts, nullptr);
    if (n > 0) return true;  // ready, or an error the next read or write reports
    if (n < 0 && errno != EINTR) {
      set_broken(error, std::string("poll: ") + std::strerror(errno));
      return false;
    }
  }
}

std::unique_ptr<RedisConn> RedisConn::open(const RedisTarget& target,
                                           Clock::time_point connect_deadline,
                                           Clock::time_point deadline, std::string& error,
                                           bool* auth_refused) {
  redisContext* c = target.unix_socket ? redisConnectUnixNonBlock(target.path.c_str())
                                       : redisConnectNonBlock(target.host.c_str(), target.port);
  const std::string where = "Redis at " + target.redacted() + ": ";
  if (!c) {
    error = where + "cannot allocate a connection";
    return nullptr;
  }
  if (c->err) {
    error = where + context_error(c);
    redisFree(c);
    return nullptr;
  }
  std::unique_ptr<RedisConn> conn(new RedisConn(c));
  // The connect completes when the socket turns writable; SO_ERROR says how.
  std::string err;
  if (!conn->wait(POLLOUT, std::min(connect_deadline, deadline), err)) {
    error = where + (err == "timed out" ? "connect timed out" : err);
    return nullptr;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    error = where + std::strerror(so_error ? so_error : errno);
    return nullptr;
  }
  // AUTH and SELECT when asked for, then PING: a server that wants a
  // password nobody gave answers NOAUTH here rather than on a request.
  const std::string db = std::to_string(target.db);
  std::vector<Command> cmds;
  if (!target.password.empty()) {
    if (target.user.empty()) cmds.push_back({"AUTH", target.password});
    else cmds.push_back({"AUTH", target.user, target.password});
  }
  if (target.db != 0) cmds.push_back({"SELECT", db});
  cmds.push_back({"PING"});
  auto replies = conn->pipeline(cmds, deadline, err);
  if (replies.empty()) {
    error = where + err;
    return nullptr;
  }
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i]->type != REDIS_REPLY_ERROR) continue;
    const std::string text = redis_reply_text(replies[i].get());
    const bool is_auth = cmds[i][0] == "AUTH" || text.rfind("NOAUTH", 0) == 0;
    if (auth_refused) *auth_refused = is_auth;
    error = where + (is_auth ? "refused the credentials: " : "refused the connection set-up: ") + text;
    return nullptr;
  }
  conn->uses_ = 0;
  return conn;
}

std::vector<RedisReply> RedisConn::pipeline(std::span<const Command> commands,
                                            Clock::time_point deadline, std::string& error) {
  std::vector<RedisReply> replies;
  if (broken_) {
    error = "connection broken";
    return replies;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Command& cmd : commands) {
    argv.clear();
    lens.clear();
    for (std::string_view a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      set_broken(error, context_error(ctx_));
      return replies;
    }
  }
  for (int done = 0; !done;) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
      set_broken(error, context_error(ctx_));
      return replies;
    }
    if (!done && !wait(POLLOUT, deadline, error)) return replies;
  }
  while (replies.size() < commands.size()) {
    void* r = nullptr;
    if (redisGetReplyFromReader(ctx_, &r) != REDIS_OK) {
      set_broken(error, context_error(ctx_));
      replies.clear();
      return replies;
    }
    if (r) {
      replies.emplace_back(static_cast<redisReply*>(r));
      continue;
    }
    // Nothing complete yet: wait for bytes, then read what is there.
    if (!wait(POLLIN, deadline, error) || redisBufferRead(ctx_) != REDIS_OK) {
      if (!broken_) set_broken(error, context_error(ctx_));
      replies.clear();
      return replies;
    }
  }
  ++uses_;
  return replies;
}

RedisReply RedisConn::command(const Command& args, Clock::time_point deadline, std::string& error) {
  auto replies = pipeline({&args, 1}, deadline, error);
  return replies.empty() ? nullptr : std::move(replies[0]);
}

// ---------------------------------------------------------------- pool

RedisPool::RedisPool(RedisTarget target, std::chrono::microseconds connect_timeout, size_t max)
    : target_(std::move(target)), connect_timeout_(connect_timeout), max_(std::max<size_t>(1, max)) {}

RedisPool::~RedisPool() = default;

std::unique_ptr<RedisConn> RedisPool::acquire(Clock::time_point deadline, std::string& error) {
  std::unique_lock lock(mu_);
  const uint64_t gen = generation_;
  for (;;) {
    if (generation_ != gen) {
      error = "Redis at " + target_.redacted() + ": connections dropped after a failure";
      return nullptr;
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    if (open_ < max_) {
      ++open_;
      lock.unlock();
      auto conn = RedisConn::open(target_, Clock::now() + connect_timeout_, deadline, error);
      lock.lock();
      if (!conn) {
        --open_;
        cv_.notify_one();  // a waiter may connect in this one's place
        return nullptr;
      }
      conn->generation = gen;
      return conn;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        generation_ == gen) {
      error = "Redis at " + target_.redacted() + ": no connection became free in time (all " +
              std::to_string(max_) + " busy)";
      return nullptr;
    }
  }
}

void RedisPool::release(std::unique_ptr<RedisConn> c) {
  if (!c) return;
  {
    std::lock_guard lock(mu_);
    if (!c->broken() && c->generation == generation_) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }
  cv_.notify_one();
  // A connection not kept is closed here, outside the lock.
}

void RedisPool::drop_all() {
  std::vector<std::unique_ptr<RedisConn>> closing;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    open_ -= idle_.size();
    closing.swap(idle_);
  }
  cv_.notify_all();
}

void RedisPool::drop_idle() {
  std::vector<std::unique_ptr<RedisConn>> closing;
  {
    std::lock_guard lock(mu_);
    open_ -= idle_.size();
    closing.swap(idle_);
  }
  cv_.notify_all();  // waiters may connect in their place
}

}  // namespace mlgate
