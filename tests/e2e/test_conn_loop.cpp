// mlgate's own connection loop (DESIGN.md, "Connections"; src/conn_loop.hpp):
// nobody without a key can exhaust memory, threads or CPU, and requests on
// one connection are answered in order, each once. The same flood,
// pipelining and half-close checks run over TLS in test_tls.cpp.
#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "harness.hpp"
#include "harness_conn_checks.hpp"
#include "harness_wire.hpp"

using namespace e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Opens `n` connections from `source` that have each been served one
// request and now sit idle (keep-alive).
std::vector<std::unique_ptr<WireConn>> idle_connections(int port, size_t n,
                                                        const char* source = nullptr) {
  std::vector<std::unique_ptr<WireConn>> conns;
  for (size_t i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<WireConn>(port, source));
    conns.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (auto& c : conns) {
    REQUIRE(c->read_replies(1, 10s));
    REQUIRE(c->replies()[0].status == 200);
  }
  return conns;
}

// After `start`, sends one byte every 200 ms (each read is quick, the
// request never completes) until the server closes or `limit` passes;
// returns what it answered.
std::vector<Reply> trickle(WireConn& c, const std::string& start, double limit_ms) {
  auto t0 = Clock::now();
  c.send(start);
  while (!c.closed() && ms_since(t0) < limit_ms) {
    c.send("a");
    c.read_until_quiet(200ms);
  }
  MESSAGE("trickled request answered after " << ms_since(t0) << " ms");
  return c.replies();
}

// One GET /health on a new connection from `source`: the status (0: none).
int health_from(int port, const char* source, const std::string& extra = "") {
  WireConn c(port, source);
  c.send("GET /health HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n");
  if (!c.read_replies(1, 5s)) return 0;
  auto r = c.replies()[0];
  if (r.status == 503) CHECK(r.has("Retry-After"));
  return r.status;
}

}  // namespace

TEST_CASE("a header flood is refused 431 while it is read, and memory stays flat") {
  ScopedEnv env;
  reuse_freed_memory_under_asan(env);
  ServerProc s;
  check_header_flood(s, false);
}

TEST_CASE("a head trickled past --head-timeout is answered 408 and closed") {
  ServerProc s({"--head-timeout", "1s"});
  WireConn c(s.port());
  auto t0 = Clock::now();
  auto rs = trickle(c, "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", 6000);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 408);
  CHECK(rs[0].get("Connection") == "close");
  CHECK(c.closed());
  CHECK(ms_since(t0) < 4000);
}

TEST_CASE("a body trickled past --body-timeout is answered 408, closed, and nothing is stored") {
  ServerProc s({"--body-timeout", "2s"});
  std::string key = s.create_key("alice");
  WireConn c(s.port());
  auto t0 = Clock::now();
  auto rs = trickle(c, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "X-API-Key: " + key + "\r\nContent-Length: 200\r\n\r\n{\"text\": \"",
                    8000);
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 408);
  CHECK(json::parse(rs[0].body).contains("detail"));
  CHECK(c.closed());
  CHECK(ms_since(t0) < 6000);
  auto hc = s.client();
  auto list = hc.Get("/jobs", {{"X-API-Key", key}});
  REQUIRE(list);
  CHECK(json::parse(list->body)["jobs"].empty());
}

// The capped clients below come from addresses of their own: the
// harness's start-up probe (from 127.0.0.1) may still count as open.
TEST_CASE("one address past its connection cap gets 503 with Retry-After; another address is served") {
  // A quarter of 16 by default; X-Forwarded-For from a trusted proxy does
  // not change whose connection it is.
  ServerProc s({"--max-connections", "16", "--trusted-proxy", "127.0.0.5/32"});
  auto held = idle_connections(s.port(), 4, "127.0.0.5");
  CHECK(health_from(s.port(), "127.0.0.5") == 503);
  CHECK(health_from(s.port(), "127.0.0.5", "X-Forwarded-For: 203.0.113.9\r\n") == 503);
  CHECK(health_from(s.port(), "127.0.0.2") == 200);
  // A place given back is free again (once the server has seen the close).
  held.pop_back();
  int status = 0;
  for (auto until = Clock::now() + 3s; status != 200 && Clock::now() < until;) {
    status = health_from(s.port(), "127.0.0.5");
    if (status != 200) std::this_thread::sleep_for(50ms);
  }
  CHECK(status == 200);
}

TEST_CASE("--max-connections-per-address sets the cap") {
  ServerProc s({"--max-connections", "64", "--max-connections-per-address", "2"});
  auto held = idle_connections(s.port(), 2, "127.0.0.4");
  CHECK(health_from(s.port(), "127.0.0.4") == 503);
  CHECK(health_from(s.port(), "127.0.0.3") == 200);
}

TEST_CASE("pipelined requests are answered in order, each exactly once") {
  ServerProc s({"--tier", "free=1000/s"});
  check_pipelining(s, s.create_key("alice"), false);
}

TEST_CASE("a half-closed client gets its answer, then the connection closes") {
  ServerProc s({"--tier", "free=1000/s"});
  check_half_close(s, s.create_key("alice"), false);
}

TEST_CASE("300 idle keep-alive connections cost no measurable CPU, and stop ends them at once") {
  ServerProc s({"--keep-alive-timeout", "120"});
  // From three addresses: 256 is the default cap of one.
  std::vector<std::unique_ptr<WireConn>> conns;
  for (const char* source : {"127.0.0.1", "127.0.0.2", "127.0.0.3"})
    for (auto& c : idle_connections(s.port(), 100, source)) conns.push_back(std::move(c));
  std::this_thread::sleep_for(500ms);
  double before = cpu_seconds(s.pid());
  std::this_thread::sleep_for(3s);
  double used = cpu_seconds(s.pid()) - before;
  MESSAGE("300 idle connections: " << used * 1000 << " ms of CPU in 3 s ("
                                   << used / 3 * 100 << "% of a core)");
  // The library's loop woke each thread every ~10 ms: ~45% of a core here.
  CHECK(used < 0.15);
  auto t0 = Clock::now();
  s.signal(SIGTERM);
  CHECK(s.wait_exit(10s) == 0);
  MESSAGE("stopped with 300 idle connections in " << ms_since(t0) << " ms");
  CHECK(ms_since(t0) < 3000);  // not the 120 s keep-alive timeout
}

TEST_CASE("1,000 keep-alive connections from 20 addresses are all served under the default caps") {
  ServerProc s;
  std::vector<std::unique_ptr<WireConn>> conns;
  size_t served = 0, busy = 0;
  for (int a = 0; a < 20; ++a) {
    std::string source = "127.0.0." + std::to_string(10 + a);
    for (int i = 0; i < 50; ++i) {
      conns.push_back(std::make_unique<WireConn>(s.port(), source.c_str()));
      conns.back()->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    }
  }
  // Then a second request on every one: all 1,000 stay open meanwhile.
  for (int round = 0; round < 2; ++round)
    for (auto& c : conns) {
      REQUIRE(c->read_replies(round + 1, 20s));
      int status = c->replies()[round].status;
      served += status == 200;
      busy += status == 503;
      if (round == 0) c->send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    }
  MESSAGE("1,000 connections x 2 requests: " << served << " answered 200, " << busy << " 503");
  CHECK(served == 2000);
  CHECK(busy == 0);
}
