// Unit tests for failover_limiter.hpp with a real Redis behind it: the
// contract through the failover, the breaker (no request waits on a dead
// Redis once one has seen it fail), each --redis-fail mode, and the return
// to shared decisions after Redis comes back.
#include <doctest/doctest.h>

#include "../contract/limiter_contract.hpp"
#include "../e2e/harness_redis.hpp"

#if MLGATE_HAVE_HIREDIS
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "failover_limiter.hpp"
#include "local_limiter.hpp"
#include "redis_limiter.hpp"

using namespace mlgate;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

RatePolicy rate(std::string_view text, std::string_view name) {
  auto r = parse_rate(text, name);
  REQUIRE(r.policy);
  return *r.policy;
}

std::unique_ptr<FailoverLimiter> make(const test::RedisServer& r, std::vector<RatePolicy> ps,
                                      FailMode mode, milliseconds timeout = milliseconds(500)) {
  signal(SIGPIPE, SIG_IGN);
  static std::atomic<int> n{0};
  RedisLimiterOptions o;
  o.target = *parse_redis_url(r.url()).target;
  o.prefix = "failover-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ":";
  o.command_timeout = timeout;
  auto remote = std::make_unique<RedisLimiter>(ps, o);
  const bool up = remote->probe().ok;
  auto local = std::make_unique<LocalLimiter>(ps, LimiterOptions{});
  FailoverOptions fo;
  fo.mode = mode;
  return std::make_unique<FailoverLimiter>(std::move(remote), std::move(local), fo, up);
}

test::RedisServer& shared_redis() {
  static test::RedisServer server;
  return server;
}

// Polls until `pred` holds or `limit` passes; returns the time it took.
template <class Pred>
milliseconds wait_for(Pred pred, milliseconds limit) {
  const auto t0 = steady_clock::now();
  while (!pred() && steady_clock::now() - t0 < limit) std::this_thread::sleep_for(milliseconds(10));
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
}

const LimitCheck kCheck{0, "client"};

}  // namespace

MLGATE_LIMITER_CONTRACT_IF("redis behind the failover", test::needs_redis(),
                           [](std::vector<RatePolicy> ps) -> std::unique_ptr<Limiter> {
                             return make(shared_redis(), std::move(ps), FailMode::Local);
                           })

TEST_CASE("Redis killed: the embedded limiter decides at once; back to Redis within 2 s of its return" *
          test::needs_redis()) {
  test::RedisServer r;
  auto l = make(r, {rate("3/min", "free")}, FailMode::Local);
  REQUIRE(l->up());
  CHECK(l->backend() == "redis");
  for (int i = 0; i < 3; ++i) REQUIRE(l->decide({&kCheck, 1}).allowed());
  REQUIRE(l->decide({&kCheck, 1}).refused());  // spent, in Redis

  r.kill();
  // The embedded table never saw those three: it allows (each instance on
  // its own: at worst N times the budget), and then limits by itself.
  for (int i = 0; i < 3; ++i) {
    const auto res = l->decide({&kCheck, 1});
    REQUIRE(res.available);
    CHECK(res.allowed());
  }
  CHECK(l->decide({&kCheck, 1}).refused());
  CHECK_FALSE(l->up());
  CHECK(l->backend() == "local (redis unavailable)");
  auto st = l->stats();
  REQUIRE(st.shared);
  CHECK(st.shared->went_down == 1);  // one transition for many failing requests
  CHECK(st.shared->by_local == 4);
  CHECK(st.shared->by_shared == 4);

  r.start();  // empty: the script is gone too
  const auto took = wait_for([&] { return l->up(); }, milliseconds(3000));
  MESSAGE("back to Redis after " << took.count() << " ms");
  CHECK(l->up());
  CHECK(took < milliseconds(2000));
  // Redis lost its state when it restarted: the budget is full again there.
  CHECK(l->decide({&kCheck, 1}).allowed());
  st = l->stats();
  CHECK(st.shared->came_back == 1);
  CHECK(st.shared->by_shared == 5);
  // Every decision counted by policy, whichever backend made it.
  CHECK(st.policies[0].allowed == 3 + 3 + 1);
  CHECK(st.policies[0].refused == 1 + 1);
}

TEST_CASE("--redis-fail closed and open: unavailable, counted by mode" * test::needs_redis()) {
  for (FailMode mode : {FailMode::Closed, FailMode::Open}) {
    test::RedisServer r;
    auto l = make(r, {rate("3/min", "free")}, mode);
    REQUIRE(l->decide({&kCheck, 1}).allowed());
    r.kill();
    for (int i = 0; i < 5; ++i) {
      const auto res = l->decide({&kCheck, 1});
      CHECK_FALSE(res.available);
      CHECK(res.decided == 0);
    }
    const auto st = l->stats();
    CHECK(st.shared->went_down == 1);
    CHECK((mode == FailMode::Closed ? st.shared->by_closed : st.shared->by_open) == 5);
    CHECK(l->backend() ==
          (mode == FailMode::Closed ? "closed (redis unavailable)" : "open (redis unavailable)"));
  }
}

TEST_CASE("the breaker: once a request has seen Redis hang, the next ones do not wait" *
          test::needs_redis()) {
  test::RedisServer r;
  auto l = make(r, {rate("100/s", "free")}, FailMode::Local, milliseconds(100));
  REQUIRE(l->decide({&kCheck, 1}).allowed());
  r.pause();
  auto timed = [&] {
    const auto t0 = steady_clock::now();
    const auto res = l->decide({&kCheck, 1});
    CHECK(res.available);
    return std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - t0);
  };
  const auto first = timed();
  std::chrono::microseconds later{0};
  for (int i = 0; i < 50; ++i) later = std::max(later, timed());
  r.resume();
  MESSAGE("first request " << first.count() << " us, slowest of the next 50 " << later.count()
                           << " us");
  CHECK(first >= milliseconds(95));
  CHECK(first < milliseconds(130));  // the timeout, 5 ms, and room for a loaded machine
  // An embedded decision: microseconds, even on a loaded machine.
  CHECK(later < milliseconds(10));
  // The hung server answers again: the probe brings decisions back.
  CHECK(wait_for([&] { return l->up(); }, milliseconds(3000)) < milliseconds(2000));
}

TEST_CASE("an idle instance notices an outage through its health probe" * test::needs_redis()) {
  test::RedisServer r;
  auto l = make(r, {rate("5/min", "free")}, FailMode::Local);
  REQUIRE(l->up());
  r.kill();
  // No decide() call: only the probe (every second while up) can see it.
  CHECK(wait_for([&] { return !l->up(); }, milliseconds(3000)) < milliseconds(2000));
}

#else
TEST_CASE("failover limiter" * doctest::skip(true)) {}
#endif
