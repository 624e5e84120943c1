// Several mlgate instances on one Redis (--redis): one budget across them
// for a key, an address and the failed-key budget, with the same headers
// the embedded limiter gives for the same sequence; the budget held under
// concurrent load at both; start-up with a wrong password or no Redis.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "harness.hpp"
#include "harness_redis.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// Two instances with the same keys: keys stay per instance (they live in
// each one's SQLite file), so B starts on a copy of A's data, made after
// the keys were created and A had stopped cleanly.
struct Pair {
  TempDir copy;
  std::unique_ptr<ServerProc> a, b;
  std::vector<std::string> keys;

  Pair(const std::vector<std::string>& args, const std::vector<std::vector<std::string>>& key_args) {
    a = std::make_unique<ServerProc>(args);
    for (size_t i = 0; i < key_args.size(); ++i)
      keys.push_back(a->create_key("k" + std::to_string(i), key_args[i]));
    a->signal(SIGTERM);
    REQUIRE(a->wait_exit() == 0);
    const auto dir_b = (copy.path / "data").string();
    std::filesystem::copy(a->dir(), dir_b, std::filesystem::copy_options::recursive);
    a->start();
    b = std::make_unique<ServerProc>(args, dir_b);
  }
};

// What a client sees of a limited response.
struct Seen {
  int status = 0;
  std::string ratelimit, policy, retry_after;
  bool operator==(const Seen&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Seen& s) {
  return o << s.status << " RateLimit: " << s.ratelimit << " | RateLimit-Policy: " << s.policy
           << " | Retry-After: " << s.retry_after;
}

Seen seen(const httplib::Result& r) {
  REQUIRE(r);
  return {r->status, r->get_header_value("RateLimit"), r->get_header_value("RateLimit-Policy"),
          r->get_header_value("Retry-After")};
}

std::string prefix_arg() {
  static int n = 0;
  return "e2e-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ":";
}

}  // namespace

TEST_CASE("a free key's 5 a minute are 5 across two instances, with the embedded limiter's headers" *
          test::needs_redis()) {
  test::RedisServer redis;
  // 100/h per address: every header value is then exact whatever the
  // machine's speed (nothing refills within the test).
  const std::vector<std::string> shared = {"--limit-ip", "100/h", "--redis", redis.url(),
                                           "--redis-prefix", prefix_arg()};
  Pair p(shared, {{}});
  ServerProc alone({"--limit-ip", "100/h"});
  const std::string solo_key = alone.create_key("solo");
  auto ca = p.a->client(), cb = p.b->client(), cs = alone.client();
  CHECK(json::parse(ca.Get("/health")->body)["limiter"] == "redis");
  CHECK(json::parse(cs.Get("/health")->body)["limiter"] == "local");
  // A, B, A, B, A: five accepted; then the sixth and seventh, on A and on B.
  httplib::Client* order[] = {&ca, &cb, &ca, &cb, &ca, &ca, &cb};
  for (int i = 0; i < 7; ++i) {
    CAPTURE(i);
    const Seen shared_seen = seen(post_predict(*order[i], p.keys[0]));
    const Seen solo_seen = seen(post_predict(cs, solo_key));
    CHECK(shared_seen.status == (i < 5 ? 202 : 429));
    CHECK(shared_seen == solo_seen);
  }
}

TEST_CASE("the per-address limit is one budget across two instances" * test::needs_redis()) {
  test::RedisServer redis;
  const std::vector<std::string> shared = {"--limit-ip", "3/min", "--redis", redis.url(),
                                           "--redis-prefix", prefix_arg()};
  Pair p(shared, {});
  ServerProc alone({"--limit-ip", "3/min"});
  auto ca = p.a->client(), cb = p.b->client(), cs = alone.client();
  httplib::Client* order[] = {&ca, &cb, &ca, &cb, &ca};
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    const Seen s = seen(order[i]->Get("/"));
    CHECK(s.status == (i < 3 ? 200 : 429));
    CHECK(s == seen(cs.Get("/")));
  }
}

TEST_CASE("the failed-key budget is one budget across two instances" * test::needs_redis()) {
  test::RedisServer redis;
  const std::vector<std::string> shared = {"--limit-ip", "100/h", "--limit-auth-fail", "3/min",
                                           "--redis", redis.url(), "--redis-prefix", prefix_arg()};
  Pair p(shared, {{}});
  ServerProc alone({"--limit-ip", "100/h", "--limit-auth-fail", "3/min"});
  const std::string solo_key = alone.create_key("solo");
  auto ca = p.a->client(), cb = p.b->client(), cs = alone.client();
  httplib::Client* order[] = {&ca, &cb, &ca, &cb, &ca};
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    const Seen s = seen(post_predict(*order[i], "mlg_not-a-real-key"));
    CHECK(s.status == (i < 3 ? 401 : 429));
    CHECK(s == seen(post_predict(cs, "mlg_not-a-real-key")));
  }
  // Spent for this address on both instances: even a good key waits.
  const Seen good = seen(post_predict(cb, p.keys[0]));
  CHECK(good.status == 429);
  CHECK(good == seen(post_predict(cs, solo_key)));
}

TEST_CASE("under load at both instances one key gets its budget once, not twice" *
          test::needs_redis()) {
  test::RedisServer redis;
  // 100/s with a burst of 100 on the job routes; the address is not limited.
  // Generous Redis timeouts: on a loaded machine a 20 ms timeout sends some
  // decisions to the local fallback (each instance its own budget), which
  // is the outage tests' subject, not this one's.
  Pair p({"--limit-ip", "1000000/s", "--tier", "load=100/s", "--redis", redis.url(),
          "--redis-prefix", prefix_arg(), "--access-log", "false", "--redis-timeout", "2s",
          "--redis-connect-timeout", "2s"},
         {{"--tier", "load"}});
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, limited{0}, other{0};
  auto worker = [&](const ServerProc* s) {
    auto c = s->client();
    while (!stop.load()) {
      auto r = c.Get("/jobs?limit=1", {{"X-API-Key", p.keys[0]}});
      if (r && r->status == 200) ++ok;
      else if (r && r->status == 429) ++limited;
      else ++other;
      // About 250 attempts a second per thread, 1,000 in all: ten times
      // the budget, and little load on a shared machine.
      std::this_thread::sleep_for(milliseconds(4));
    }
  };
  const auto t0 = steady_clock::now();
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i) {
    ts.emplace_back(worker, p.a.get());
    ts.emplace_back(worker, p.b.get());
  }
  std::this_thread::sleep_for(std::chrono::seconds(10));
  stop = true;
  for (auto& t : ts) t.join();
  const double secs = std::chrono::duration<double>(steady_clock::now() - t0).count();
  const double budget = 100 * secs;  // the rate over the run; plus the burst of 100
  MESSAGE("accepted " << ok.load() << ", refused " << limited.load() << ", other " << other.load()
                      << " in " << secs << " s (rate x time " << budget << ", burst 100)");
  CHECK(other.load() == 0);
  CHECK(limited.load() > ok.load());  // really over the budget all along
  CHECK(ok.load() <= budget * 1.01 + 100);
  // Below: a stall of the clients or servers longer than the burst's
  // second (a loaded machine) forfeits budget that no request asked for,
  // so the floor is looser than the ceiling, which is what sharing is for.
  CHECK(ok.load() >= budget * 0.85);
}

TEST_CASE("the right password shares limits; a wrong one is one error line and exit status 2" *
          test::needs_redis()) {
  test::RedisServer redis({"--requirepass", "pa55-word"});
  const std::string prefix = prefix_arg();
  {
    ServerProc s({"--redis", redis.url(), "--redis-prefix", prefix});
    auto c = s.client();
    auto r = c.Get("/");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(redis.command({"EXISTS", prefix + "ip:127.0.0.1"}) == "1");
  }
  TempDir dir;
  const auto r = run_cli({"serve", "--port", "0", "--data-dir", (dir.path / "d").string(),
                          "--redis", "redis://:wrong-one@127.0.0.1:" + std::to_string(redis.port())});
  CHECK(r.status == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("refused the credentials") != std::string::npos);
  CHECK(r.err.find("wrong-one") == std::string::npos);
  MESSAGE(r.err);
}

TEST_CASE("start-up without Redis: the fallback with one warning, or exit 1 with --redis-fail closed" *
          test::needs_redis()) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(unused_port());
  {
    ServerProc s({"--redis", url});
    const std::string log = s.log();
    size_t warnings = 0;
    for (size_t at = 0; (at = log.find("\"level\":\"warn\"", at)) != std::string::npos; ++at) ++warnings;
    CHECK(warnings == 1);
    CHECK(log.find("redis unreachable at start-up") != std::string::npos);
    auto c = s.client();
    auto h = c.Get("/health");
    REQUIRE(h);
    CHECK(h->status == 200);
    CHECK(json::parse(h->body)["limiter"] == "local (redis unavailable)");
  }
  TempDir dir;
  const auto r = run_cli({"serve", "--port", "0", "--data-dir", (dir.path / "d").string(),
                          "--redis", url, "--redis-fail", "closed"});
  CHECK(r.status == 1);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find("Connection refused") != std::string::npos);
  MESSAGE(r.err);
}
