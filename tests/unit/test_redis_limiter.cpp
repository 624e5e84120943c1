// Unit tests for redis_limiter.hpp against a real redis-server: the Limiter
// contract, the script's arithmetic against the embedded limiter for random
// sequences, key layout and expiry, NOSCRIPT, timeouts and credentials.
#include <doctest/doctest.h>

#include "../contract/limiter_contract.hpp"
#include "../e2e/harness_redis.hpp"

#if MLGATE_HAVE_HIREDIS
#include <signal.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "local_limiter.hpp"
#include "redis_limiter.hpp"

using namespace mlgate;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr int64_t S = kNsPerSecond;

// One server for the cases that do not stop it; each limiter gets its own
// key prefix, so no case sees another's state.
test::RedisServer& shared_redis() {
  static test::RedisServer server;
  return server;
}

RedisTarget target_of(const test::RedisServer& r) { return *parse_redis_url(r.url()).target; }

std::string fresh_prefix() {
  static std::atomic<int> n{0};
  return "mlgate-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ":";
}

RedisLimiterOptions options_for(const test::RedisServer& r) {
  // SIGPIPE: a write to a killed server must fail the call, not the process.
  signal(SIGPIPE, SIG_IGN);
  RedisLimiterOptions o;
  o.target = target_of(r);
  o.prefix = fresh_prefix();
  // Generous for a loaded test machine; the bound itself is tested below.
  o.command_timeout = milliseconds(500);
  o.connect_timeout = milliseconds(500);
  return o;
}

RatePolicy rate(std::string_view text, std::string_view name) {
  auto r = parse_rate(text, name);
  REQUIRE_MESSAGE(r.policy.has_value(), r.error);
  return *r.policy;
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MLGATE_LIMITER_CONTRACT_IF("redis", test::needs_redis(),
                           [](std::vector<RatePolicy> ps) -> std::unique_ptr<Limiter> {
                             return std::make_unique<RedisLimiter>(std::move(ps),
                                                                   options_for(shared_redis()));
                           })

TEST_CASE("the script decides random sequences exactly as the embedded limiter" *
          test::needs_redis()) {
  // Both backends see the same instants: the script's clock is pinned to
  // the one the embedded limiter is given. The pinned clock runs at least
  // a second ahead of the real one, so a key never expires in Redis (real
  // time) before the script's own clock says its budget is full.
  const std::vector<RatePolicy> ps = {rate("5/min", "free"), rate("7/s", "odd"),
                                      rate("3/s,burst=1", "strict"), rate("100/h,burst=7", "hourly"),
                                      rate("1000/s,burst=50", "fast")};
  for (uint32_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    int64_t now = 0;
    auto opts = options_for(shared_redis());
    opts.clock_override = [&now] { return now; };
    RedisLimiter redis(ps, opts);
    LocalLimiter local(ps, {}, nullptr, {[&now] { return now; }, [&now] { return now; }});
    const std::string clients[] = {"10.0.0.1", "key_a", "2001:db8::/64"};
    int allowed = 0, refused = 0;
    for (int i = 0; i < 400; ++i) {
      // Steps on every scale, mostly short so that budgets run out: none,
      // up to a millisecond, 100 ms, a second, a minute.
      const int64_t scale[] = {0, 0, 1'000'000, 1'000'000, 100'000'000, 100'000'000, S, 60 * S};
      const int64_t step = static_cast<int64_t>(rng() % static_cast<uint64_t>(scale[rng() % 8] + 1));
      now = std::max(now + step, wall_ns() + S);
      LimitCheck checks[LimitResult::kMaxChecks];
      const size_t n = 1 + rng() % LimitResult::kMaxChecks;
      for (size_t k = 0; k < n; ++k)
        checks[k] = {static_cast<PolicyId>(rng() % ps.size()), clients[rng() % 3],
                     rng() % 4 == 0 ? LimitMode::Peek : LimitMode::Charge};
      const LimitResult a = redis.decide({checks, n});
      const LimitResult b = local.decide({checks, n});
      CAPTURE(i);
      REQUIRE(a.available);
      REQUIRE(a.decided == b.decided);
      for (size_t k = 0; k < a.decided; ++k) {
        const Decision &x = a.decisions[k], &y = b.decisions[k];
        CHECK(x.allowed == y.allowed);
        CHECK(x.remaining == y.remaining);
        CHECK(x.reset_s == y.reset_s);
        CHECK(x.retry_after_s == y.retry_after_s);
        CHECK(x.wait_ns == y.wait_ns);
        CHECK(x.full_ns == y.full_ns);
        CHECK(ratelimit_item(ps[checks[k].policy], x) == ratelimit_item(ps[checks[k].policy], y));
        (x.allowed ? allowed : refused) += 1;
      }
    }
    // The sequences exercise both answers, not just one.
    CHECK(allowed > 100);
    CHECK(refused > 30);
  }
}

TEST_CASE("a state key is PREFIX + policy + ':' + client and expires when its budget is full" *
          test::needs_redis()) {
  auto& r = shared_redis();
  auto opts = options_for(r);
  RedisLimiter l({rate("5/min", "free"), rate("5/min", "free.poll")}, opts);
  // A client string with ':' in it stays inside its own policy's keys.
  const LimitCheck a{0, "poll:x"}, b{1, "x"};
  REQUIRE(l.decide({&a, 1}).allowed());
  REQUIRE(l.decide({&a, 1}).allowed());
  REQUIRE(l.decide({&b, 1}).allowed());
  CHECK(r.command({"EXISTS", opts.prefix + "free:poll:x"}) == "1");
  CHECK(r.command({"EXISTS", opts.prefix + "free.poll:x"}) == "1");
  // Two charges of 12 s each: full again in 24 s, when the key goes.
  const int64_t ttl = std::stoll(r.command({"PTTL", opts.prefix + "free:poll:x"}));
  CHECK(ttl > 23'000);
  CHECK(ttl <= 24'001);  // PXAT is rounded up to the millisecond
  // A peek writes nothing.
  const LimitCheck p{0, "peeker", LimitMode::Peek};
  REQUIRE(l.decide({&p, 1}).allowed());
  CHECK(r.command({"EXISTS", opts.prefix + "free:peeker"}) == "0");
}

TEST_CASE("a Redis that lost the script (NOSCRIPT) gets it again within the same request" *
          test::needs_redis()) {
  auto& r = shared_redis();
  RedisLimiter l({rate("5/min", "free")}, options_for(r));
  const LimitCheck c{0, "noscript"};
  REQUIRE(l.decide({&c, 1}).allowed());
  r.command({"SCRIPT", "FLUSH"});
  const auto res = l.decide({&c, 1});
  REQUIRE(res.available);
  CHECK(res.decisions[0].remaining == 3);
  CHECK(r.command({"SCRIPT", "EXISTS", redis_gcra_sha()}) == "1");
}

TEST_CASE("a refused connection is unavailable at once, with the reason" * test::needs_redis()) {
  test::RedisServer r;
  auto opts = options_for(r);
  r.kill();
  RedisLimiter l({rate("5/min", "free")}, opts);
  const LimitCheck c{0, "x"};
  const auto t0 = steady_clock::now();
  const auto res = l.decide({&c, 1});
  CHECK_FALSE(res.available);
  CHECK(steady_clock::now() - t0 < milliseconds(100));
  CHECK(l.last_error().find("refused") != std::string::npos);
  const ProbeResult p = l.probe();
  CHECK_FALSE(p.ok);
  CHECK_FALSE(p.auth);
}

TEST_CASE("a hung Redis (SIGSTOP) costs a request its command timeout, not more" *
          test::needs_redis()) {
  test::RedisServer r;
  auto opts = options_for(r);
  opts.command_timeout = milliseconds(100);
  RedisLimiter l({rate("5/min", "free")}, opts);
  const LimitCheck c{0, "hung"};
  REQUIRE(l.decide({&c, 1}).allowed());  // a pooled connection exists
  r.pause();
  // Four at once: one on the pooled connection, three connecting anew
  // (the kernel accepts for a stopped server; only the answer never comes).
  std::vector<std::thread> ts;
  std::atomic<int64_t> worst_us{0};
  std::atomic<int> unavailable{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      const auto t0 = steady_clock::now();
      const auto res = l.decide({&c, 1});
      const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - t0).count();
      if (!res.available) ++unavailable;
      int64_t prev = worst_us.load();
      while (us > prev && !worst_us.compare_exchange_weak(prev, us)) {
      }
    });
  for (auto& t : ts) t.join();
  r.resume();
  CHECK(unavailable.load() == 4);
  MESSAGE("slowest decide() against a hung Redis: " << worst_us.load() << " us (timeout 100 ms)");
  // The timeout plus 5 ms, and 25 ms of room for a loaded machine; two
  // timeouts in a row (waiting for a connection, then for the answer)
  // would be 200 ms.
  CHECK(worst_us.load() >= 95'000);
  CHECK(worst_us.load() < 130'000);
  CHECK(l.last_error().find("timed out") != std::string::npos);
}

TEST_CASE("credentials: the right password works, a wrong or missing one is an auth refusal" *
          test::needs_redis()) {
  test::RedisServer r({"--requirepass", "s3cret"});
  auto opts = options_for(r);
  {
    RedisLimiter l({rate("5/min", "free")}, opts);
    CHECK(l.probe().ok);
    const LimitCheck c{0, "auth"};
    CHECK(l.decide({&c, 1}).allowed());
  }
  for (const char* pw : {"not-it-42", ""}) {
    CAPTURE(pw);
    auto bad = opts;
    bad.target.password = pw;
    RedisLimiter l({rate("5/min", "free")}, bad);
    const ProbeResult p = l.probe();
    CHECK_FALSE(p.ok);
    CHECK(p.auth);
    CHECK(p.error.find("s3cret") == std::string::npos);
    CHECK(p.error.find("not-it-42") == std::string::npos);
  }
}

#else
TEST_CASE("redis limiter" * doctest::skip(true)) {}
#endif
