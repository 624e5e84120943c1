// harness_redis.hpp: a real redis-server for tests (unit and end-to-end).
//
// Each RedisServer is a child process on a free loopback port, persistence
// off (--save "" --appendonly no), in its own temporary directory. Tests can
// kill it, hang it (SIGSTOP) and start it again, empty, on the same port.
// When redis-server is not installed (or mlgate was built without hiredis),
// the tests that need it are skipped with a visible "SKIPPED" line: use
// `TEST_CASE("..." * test::needs_redis())`.
#pragma once

#include <doctest/doctest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace test {

class RedisServer {
 public:
  // redis-server is installed and this build can talk to it. Prints one
  // "SKIPPED" line on standard error the first time it is false.
  static bool available();

  // Starts redis-server with `extra` arguments (e.g. {"--requirepass", "pw"})
  // and waits until it answers. Throws std::runtime_error if it cannot.
  explicit RedisServer(std::vector<std::string> extra = {});
  ~RedisServer();  // SIGKILL
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:PORT (with the password, if any)

  void kill();    // SIGKILL, and reaped
  void pause();   // SIGSTOP: a hung server (connections accepted, nothing answered)
  void resume();  // SIGCONT
  void start();   // again after kill(): same port, empty

  // One command on a fresh connection; the reply as text (integers in
  // decimal, nil as ""). Throws std::runtime_error on an error reply.
  std::string command(const std::vector<std::string>& args) const;

 private:
  std::vector<std::string> extra_;
  std::filesystem::path dir_;
  std::string password_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// Skips the test case, visibly, when RedisServer::available() is false.
inline doctest::skip needs_redis() { return doctest::skip(!RedisServer::available()); }

}  // namespace test
