#include "harness_conn_checks.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <memory>
#include <thread>

#include "harness_wire.hpp"

namespace e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string post(const std::string& key, const std::string& text) {
  std::string body = json{{"text", text}}.dump();
  std::string h = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  if (!key.empty()) h += "X-API-Key: " + key + "\r\n";
  return h + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kGetHealth = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

json body_of(const Reply& r) { return json::parse(r.body, nullptr, false); }

// Sends `bytes` in one write on a new connection; the `count` replies, and
// no more (checked after a short silence).
std::vector<Reply> in_one_write(const ServerProc& s, bool tls, const std::string& bytes,
                                size_t count) {
  auto c = std::make_unique<WireConn>(s.port(), nullptr, tls);
  c->send(bytes);
  REQUIRE(c->read_replies(count, 10s));
  c->read_until_quiet(300ms);
  auto rs = c->replies();
  REQUIRE(rs.size() == count);
  CHECK_FALSE(c->closed());
  return rs;
}

}  // namespace

void reuse_freed_memory_under_asan(ScopedEnv& env) {
#if defined(__SANITIZE_ADDRESS__)
  const char* old = std::getenv("ASAN_OPTIONS");
  env.set("ASAN_OPTIONS", std::string(old ? old : "") + ":quarantine_size_mb=0");
#else
  (void)env;
#endif
}

void check_header_flood(const ServerProc& s, bool tls) {
  constexpr int kConns = 4;
  constexpr size_t kPerThread = 30u << 20;
  const long base = rss_kib(s.pid());
  REQUIRE(base > 0);
  std::atomic<bool> done{false};
  std::atomic<long> peak{base};
  std::jthread sampler([&] {
    while (!done) {
      long now = rss_kib(s.pid());
      if (now > peak) peak = now;
      std::this_thread::sleep_for(20ms);
    }
  });
  struct Tally {
    size_t sent = 0;
    int connections = 0, refused_431 = 0;
  };
  std::vector<Tally> tally(kConns);
  {
    std::vector<std::jthread> floods;
    for (int i = 0; i < kConns; ++i)
      floods.emplace_back([&, i] {
        std::string chunk;
        for (int k = 0; k < 8; ++k) chunk += "X-Flood: " + std::string(8180, 'f') + "\r\n";
        Tally& t = tally[i];
        auto until = Clock::now() + 10s;
        // Each connection is cut off after the 431: keep coming back.
        while (t.sent < kPerThread && Clock::now() < until) {
          WireConn c(s.port(), nullptr, tls);
          ++t.connections;
          c.send("GET /health HTTP/1.1\r\nHost: x\r\n");
          while (t.sent < kPerThread && c.send(chunk, 5s)) t.sent += chunk.size();
          c.read_until_quiet(1000ms);
          auto rs = c.replies();
          if (!rs.empty() && rs[0].status == 431) ++t.refused_431;
        }
      });
  }
  done = true;
  sampler = std::jthread();
  size_t sent = 0;
  int connections = 0, refused = 0;
  for (auto& t : tally) {
    sent += t.sent;
    connections += t.connections;
    refused += t.refused_431;
  }
  const long grown_kib = peak - base;
  MESSAGE(std::string(tls ? "TLS" : "plain") << " header flood: " << kConns << " threads sent "
                                  << sent / (1 << 20) << " MiB of header lines over " << connections
                                  << " connections, " << refused << " answered 431; resident "
                                  << base / 1024 << " MiB before, peak " << peak / 1024
                                  << " MiB (+" << grown_kib / 1024 << ")");
  CHECK(sent >= size_t(kConns) * (10u << 20));  // tens of MB reached the server
  CHECK(refused == connections);
  CHECK(grown_kib < 30 * 1024);
  auto c = s.client();
  auto r = c.Get("/health");
  REQUIRE(r);
  CHECK(r->status == 200);
}

void check_pipelining(const ServerProc& s, const std::string& key, bool tls) {
  {
    INFO("GET + GET in one write");
    auto rs = in_one_write(s, tls, kGetHealth + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2);
    CHECK(rs[0].status == 200);
    CHECK(body_of(rs[0]).contains("status"));  // /health first
    CHECK(rs[1].status == 200);
    CHECK(body_of(rs[1]).contains("message"));  // then /
  }
  {
    INFO("a refused POST (no key; its body drained) + GET in one write");
    auto rs = in_one_write(s, tls, post("", "A perfectly fine text to classify") + kGetHealth, 2);
    CHECK(rs[0].status == 401);
    CHECK(rs[1].status == 200);
    CHECK(body_of(rs[1]).contains("status"));
  }
  {
    INFO("POST + POST in one write: each stored once");
    auto rs = in_one_write(s, tls,
                           post(key, "The first pipelined text is good") +
                               post(key, "The second pipelined text is bad"),
                           2);
    CHECK(rs[0].status == 202);
    CHECK(rs[1].status == 202);
    std::string a = body_of(rs[0]).value("job_uuid", ""), b = body_of(rs[1]).value("job_uuid", "");
    CHECK(!a.empty());
    CHECK(a != b);
    auto hc = s.client();
    auto list = hc.Get("/jobs?limit=100", {{"X-API-Key", key}});
    REQUIRE(list);
    REQUIRE(list->status == 200);
    auto jobs = json::parse(list->body)["jobs"];
    CHECK(jobs.size() == 2);
    for (auto& j : jobs) CHECK((j["job_uuid"] == a || j["job_uuid"] == b));
  }
}

void check_half_close(const ServerProc& s, const std::string& key, bool tls) {
  // Sends `request`, half-closes, and expects exactly one answer, then the close.
  auto half_closed = [&](const std::string& request) {
    WireConn c(s.port(), nullptr, tls);
    c.send(request);
    c.shutdown_write();
    REQUIRE(c.read_replies(1, 10s));
    c.read_until_quiet(2000ms);
    CHECK(c.closed());
    auto rs = c.replies();
    REQUIRE(rs.size() == 1);
    return rs[0];
  };
  {
    INFO("GET, then shutdown(SHUT_WR)");
    CHECK(half_closed(kGetHealth).status == 200);
  }
  {
    INFO("POST, then shutdown(SHUT_WR): the client learns its job id");
    Reply r = half_closed(post(key, "Half closed but still wants an answer"));
    CHECK(r.status == 202);
    std::string id = body_of(r).value("job_uuid", "");
    REQUIRE(!id.empty());
    auto hc = s.client();
    auto got = hc.Get("/jobs/" + id, {{"X-API-Key", key}});
    REQUIRE(got);
    CHECK(got->status == 200);
  }
}

}  // namespace e2e
