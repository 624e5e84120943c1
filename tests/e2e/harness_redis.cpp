#include "harness_redis.hpp"

#include "harness_child.hpp"
#include "harness_port.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <stdexcept>
#include <thread>

#if MLGATE_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

namespace test {
namespace fs = std::filesystem;

namespace {

std::string find_redis_server() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  dirs += ":/usr/sbin:/usr/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const fs::path p = fs::path(dirs.substr(start, end - start)) / "redis-server";
    if (access(p.c_str(), X_OK) == 0) return p.string();
    start = end + 1;
  }
  return "";
}

}  // namespace

bool RedisServer::available() {
  static const bool ok = [] {
#if MLGATE_HAVE_HIREDIS
    if (!find_redis_server().empty()) return true;
    std::cerr << "SKIPPED: redis-server is not installed (scripts/deps.sh installs it); "
                 "the Redis tests are skipped\n";
#else
    std::cerr << "SKIPPED: mlgate was built without hiredis; the Redis tests are skipped\n";
#endif
    return false;
  }();
  return ok;
}

RedisServer::RedisServer(std::vector<std::string> extra) : extra_(std::move(extra)) {
  for (size_t i = 0; i + 1 < extra_.size(); ++i)
    if (extra_[i] == "--requirepass") password_ = extra_[i + 1];
  std::random_device rd;
  for (;;) {
    dir_ = fs::temp_directory_path() / ("mlgate-redis-" + std::to_string(rd()));
    if (fs::create_directory(dir_)) break;
  }
  // The port is free when picked but not reserved: try a few.
  for (int attempt = 0;; ++attempt) {
    port_ = free_loopback_port();
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (attempt == 4) throw;
    }
  }
}

RedisServer::~RedisServer() {
  kill();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string RedisServer::url() const {
  return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") + "127.0.0.1:" +
         std::to_string(port_);
}

void RedisServer::start() {
  const std::string bin = find_redis_server();
  if (bin.empty()) throw std::runtime_error("redis-server not found");
  std::vector<std::string> args = {bin,        "--port",     std::to_string(port_),
                                   "--bind",   "127.0.0.1",  "--save",
                                   "",         "--appendonly", "no",
                                   "--daemonize", "no",      "--dir",
                                   dir_.string(), "--logfile", (dir_ / "redis.log").string()};
  args.insert(args.end(), extra_.begin(), extra_.end());
  pid_ = start_child(std::move(args), "");
  const bool up = wait_answering(pid_, std::chrono::seconds(10), std::chrono::milliseconds(10), [&] {
    try {
      command({"PING"});
      return true;
    } catch (const std::exception& e) {
      // A server with a password answers NOAUTH, which also means "up".
      return std::string(e.what()).find("NOAUTH") != std::string::npos;
    }
  }, "redis-server exited at start (port " + std::to_string(port_) + ")");
  if (up) return;
  kill();
  throw std::runtime_error("redis-server did not answer within 10 s");
}

void RedisServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void RedisServer::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void RedisServer::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

std::string RedisServer::command(const std::vector<std::string>& args) const {
#if MLGATE_HAVE_HIREDIS
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c || c->err) {
    std::string e = c ? c->errstr : "no context";
    if (c) redisFree(c);
    throw std::runtime_error("connect: " + e);
  }
  redisSetTimeout(c, tv);
  auto run = [&](const std::vector<std::string>& a) -> std::string {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& s : a) {
      argv.push_back(s.data());
      lens.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (!r) throw std::runtime_error(std::string("io: ") + c->errstr);
    std::string out;
    bool err = false;
    switch (r->type) {
      case REDIS_REPLY_INTEGER: out = std::to_string(r->integer); break;
      case REDIS_REPLY_ARRAY:  // elements joined by spaces (integers and strings)
        for (size_t i = 0; i < r->elements; ++i) {
          const redisReply* e = r->element[i];
          if (i) out += ' ';
          out += e->type == REDIS_REPLY_INTEGER ? std::to_string(e->integer)
                                                : std::string(e->str ? e->str : "", e->len);
        }
        break;
      case REDIS_REPLY_NIL: break;
      case REDIS_REPLY_ERROR: err = true; [[fallthrough]];
      default: out = r->str ? std::string(r->str, r->len) : ""; break;
    }
    freeReplyObject(r);
    if (err) throw std::runtime_error(out);
    return out;
  };
  try {
    if (!password_.empty()) run({"AUTH", password_});
    std::string out = run(args);
    redisFree(c);
    return out;
  } catch (...) {
    redisFree(c);
    throw;
  }
#else
  (void)args;
  throw std::runtime_error("built without hiredis");
#endif
}

}  // namespace test
