// Redis hung (SIGSTOP), killed, and restarted empty under traffic, for each
// --redis-fail mode: what requests get while it is gone, how long any of
// them waits, /health and /metrics, one log line a transition, and shared
// decisions again within 2 s of its return.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <thread>

#include "harness.hpp"
#include "harness_redis.hpp"

using namespace e2e;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

// The command timeout the instances get (the default is 20 ms). Large
// enough that a busy machine (several test binaries and builds on two
// cores) does not trip the breaker while Redis is fine, and that a request
// which waited it stands out from one that did not.
constexpr int kTimeoutMs = 150;
// Room for a loaded 2-core machine on top of the contract's bound (the
// timeout plus 5 ms), measured at the client: under a sanitizer with other
// builds running, whole threads stall for 100 ms at times. Two timeouts in
// a row (300 ms) would still fail; the unit tests hold decide() itself to
// the timeout plus 30 ms.
constexpr int kSlackMs = 100;

struct Sample {
  Clock::time_point start;
  int64_t us = 0;
  int status = 0;
  bool ratelimit = false, retry_after = false;
};

// Requests from two threads, each on its own keep-alive connection.
class Traffic {
 public:
  Traffic(const ServerProc& s, std::string key) : key_(std::move(key)) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this, &s] { run(s); });
  }
  ~Traffic() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  // Requests started in [from, to).
  std::vector<Sample> between(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(mu_);
    std::vector<Sample> out;
    for (auto& s : samples_)
      if (s.start >= from && s.start < to) out.push_back(s);
    return out;
  }

 private:
  void run(const ServerProc& s) {
    auto c = s.client();
    while (!stop_) {
      Sample x;
      x.start = Clock::now();
      auto r = c.Get("/jobs?limit=1", {{"X-API-Key", key_}});
      x.us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - x.start).count();
      if (r) {
        x.status = r->status;
        x.ratelimit = r->has_header("RateLimit");
        x.retry_after = r->has_header("Retry-After");
      }
      {
        std::lock_guard lock(mu_);
        samples_.push_back(x);
      }
      std::this_thread::sleep_for(milliseconds(3));
    }
  }
  std::string key_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards samples_
  std::vector<Sample> samples_;
  std::vector<std::thread> threads_;
};

std::string limiter_of(const ServerProc& s) {
  auto c = s.client();
  auto r = c.Get("/health");
  REQUIRE(r);
  CHECK(r->status == 200);  // a degraded limiter never fails the health check
  return json::parse(r->body)["limiter"];
}

// Polls /health until the limiter is Redis again; the time it took.
milliseconds until_redis(const ServerProc& s) {
  const auto t0 = Clock::now();
  while (limiter_of(s) != "redis" && Clock::now() - t0 < std::chrono::seconds(5))
    std::this_thread::sleep_for(milliseconds(20));
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
}

double metric(const ServerProc& s, const std::string& key, const std::string& line) {
  auto c = s.client();
  auto r = c.Get("/metrics", {{"X-API-Key", key}});
  REQUIRE(r);
  std::smatch m;
  const std::regex re("\n" + std::regex_replace(line, std::regex(R"([{}"])"), R"(\$&)") + " ([0-9.e+]+)");
  REQUIRE_MESSAGE(std::regex_search(r->body, m, re), line);
  return std::stod(m[1]);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

// What every request of an outage must see in `mode`.
void check_outage(const std::vector<Sample>& xs, const std::string& mode, const std::string& what) {
  CAPTURE(mode);
  CAPTURE(what);
  REQUIRE(xs.size() > 20);
  for (const Sample& x : xs) {
    if (mode == "local") {  // limited by this instance's own table
      CHECK(x.status == 200);
      CHECK(x.ratelimit);
    } else if (mode == "open") {  // through, unlimited
      CHECK(x.status == 200);
      CHECK_FALSE(x.ratelimit);
    } else {  // closed
      CHECK(x.status == 503);
      CHECK(x.retry_after);
    }
  }
}

// No request waits longer than the timeout plus 5 ms (and the slack), and
// the breaker: only requests in flight when Redis hung waited at all (two
// client threads, one hang); the others never went to it.
void check_waits(const std::vector<Sample>& xs, const std::string& mode) {
  CAPTURE(mode);
  int64_t worst = 0;
  size_t waited = 0;
  std::string slow;  // every request over a tenth of the timeout, for the message
  for (const Sample& x : xs) {
    worst = std::max(worst, x.us);
    // Waited for Redis: that is a wait of (nearly) the whole timeout; a
    // request slowed by the machine's load alone is not counted.
    if (x.us >= kTimeoutMs * 900) ++waited;
    if (x.us > kTimeoutMs * 100) slow += " " + std::to_string(x.us / 1000) + "ms";
  }
  MESSAGE("mode " << mode << ": " << xs.size() << " requests, slowest " << worst << " us, "
                  << waited << " waited the timeout (" << kTimeoutMs << " ms); slow:" << slow);
  CHECK(worst <= (kTimeoutMs + 5 + kSlackMs) * 1000);
  CHECK(waited <= 2);
}

}  // namespace

TEST_CASE("Redis hung, killed and restarted empty under traffic, in each --redis-fail mode" *
          test::needs_redis()) {
  for (const std::string mode : {"local", "closed", "open"}) {
    CAPTURE(mode);
    test::RedisServer redis;
    ServerProc s({"--redis", redis.url(), "--redis-fail", mode, "--redis-timeout",
                  std::to_string(kTimeoutMs) + "ms", "--limit-ip", "1000000/s", "--tier",
                  "big=100000/s", "--access-log", "false"});
    const std::string key = s.create_key("k", {"--tier", "big", "--scopes", "read,metrics"});
    REQUIRE(limiter_of(s) == "redis");
    Traffic traffic(s, key);
    std::this_thread::sleep_for(milliseconds(300));

    // Hung: connections are accepted, nothing is answered.
    const auto paused = Clock::now();
    redis.pause();
    std::this_thread::sleep_for(milliseconds(700));
    const auto resumed = Clock::now();
    CHECK(limiter_of(s) == mode + " (redis unavailable)");
    redis.resume();
    const auto back1 = until_redis(s);
    CHECK(back1 < milliseconds(2000));

    // Killed: connections are reset, new ones refused.
    const auto killed = Clock::now();
    redis.kill();
    std::this_thread::sleep_for(milliseconds(700));
    const auto restarted = Clock::now();
    CHECK(limiter_of(s) == mode + " (redis unavailable)");
    redis.start();  // empty, without the script
    const auto back2 = until_redis(s);
    CHECK(back2 < milliseconds(2000));
    // Shared decisions again: this request's budget is in the new Redis.
    auto c = s.client();
    auto r = c.Get("/jobs?limit=1", {{"X-API-Key", key}});
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->has_header("RateLimit"));
    CHECK(std::stoi(redis.command({"DBSIZE"})) >= 1);
    traffic.stop();
    MESSAGE("back to Redis " << back1.count() << " ms after SIGCONT, " << back2.count()
                             << " ms after the restart");

    // Requests that started once the signal had been sent.
    check_outage(traffic.between(paused + milliseconds(1), resumed), mode, "hung");
    check_outage(traffic.between(killed + milliseconds(1), restarted), mode, "killed");
    check_waits(traffic.between(Clock::time_point::min(), Clock::time_point::max()), mode);
    // Before the outage every answer came from Redis. (A request in flight
    // when Redis hung is answered as in the outage: not counted here.)
    for (const Sample& x : traffic.between(paused - milliseconds(250), paused))
      if (x.start + std::chrono::microseconds(x.us) < paused) {
        CHECK(x.status == 200);
        CHECK(x.ratelimit);
      }

    // The server writes its log from its own thread: a line queued just
    // before this read may reach the file a moment later on a busy machine
    // (seen once under ASan with every core taken). Wait for it, briefly.
    std::string log;
    for (auto end = Clock::now() + milliseconds(2000); Clock::now() < end;) {
      log = s.log();
      if (count(log, "redis reachable again") >= 2) break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    CHECK(count(log, "redis unavailable; rate limits decided by the fallback") == 2);
    CHECK(count(log, "redis reachable again") == 2);
    CHECK(metric(s, key, "mlgate_redis_up") == 1);
    CHECK(metric(s, key, "mlgate_redis_transitions_total{to=\"down\"}") == 2);
    CHECK(metric(s, key, "mlgate_redis_transitions_total{to=\"up\"}") == 2);
    CHECK(metric(s, key, "mlgate_ratelimit_backend_decisions_total{backend=\"" + mode + "\"}") > 20);
    CHECK(metric(s, key, "mlgate_ratelimit_backend_decisions_total{backend=\"redis\"}") > 20);
  }
}
