// redis_limiter.hpp: the shared limiter backend: every check of a request
// decided in Redis by one Lua script, in one round trip.
//
// What the caller may rely on
// - Same answers as the embedded limiter. The script keeps one TAT per
//   policy and client and applies gcra.hpp's rule with the same integer
//   nanoseconds (T and B*T are computed here and passed in); it returns the
//   TAT and the time it used, and the Decision and its header values are
//   computed here by gcra_evaluate(), the same function the embedded
//   backend uses. So the same sequence of requests gets the same decisions
//   and the same RateLimit / Retry-After headers from either backend.
// - One clock. "Now" is Redis's `TIME`, read once per request: instances
//   whose clocks disagree still share one budget. (Redis TIME has
//   microsecond resolution.)
// - Identity. The state of policy P for client C is the key
//   PREFIX + P + ":" + C. Policy names never contain ':' (gcra.hpp), so no
//   client string can reach another policy's key. Instances share a budget
//   when they use the same Redis, prefix, policy name and client; give
//   every instance the same rates.
// - Memory in Redis: a key expires at its TAT, the moment its budget is
//   full again (a full budget is what a missing key means), so Redis holds
//   only clients that are being limited. About 175 bytes a key with its
//   expiry (measured: 10,000 address keys took 1.75 MB in Redis 7.0).
// - Failure: decide() answers `available` false (never throws for a
//   Redis problem) when it cannot get an answer within the command
//   timeout: connection refused or lost, timeout, an error reply. A missing
//   script (NOSCRIPT: a restarted or failed-over Redis) is loaded again and
//   the request retried once within the same budget.
// - Threads: decide() from any thread; connections come from a bounded pool
//   (hiredis contexts are not thread-safe). probe() uses its own connection.
// Needs Redis 6.2 or newer (SET ... PXAT). Not Redis Cluster: a request's
// keys live in different hash slots.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "failover_limiter.hpp"
#include "redis_conn.hpp"
#include "redis_url.hpp"

namespace mlgate {

struct RedisLimiterOptions {
  RedisTarget target;
  std::string prefix = "mlgate:";
  std::chrono::milliseconds connect_timeout{50};  // probe and new connections
  std::chrono::milliseconds command_timeout{20};  // the most one decide() waits, in all
  size_t pool_size = 32;                          // connections at most
  // Tests only: Unix nanoseconds the script takes as now instead of TIME,
  // so a sequence can be replayed against the embedded limiter.
  std::function<int64_t()> clock_override;
};

// The Lua source and its SHA-1 (what EVALSHA names).
const std::string& redis_gcra_script();
const std::string& redis_gcra_sha();

class RedisLimiter final : public RemoteLimiter {
 public:
  // Throws std::invalid_argument for invalid or duplicate policies. Does
  // not connect: probe() does, or the first decide().
  RedisLimiter(std::vector<RatePolicy> policies, RedisLimiterOptions options);
  ~RedisLimiter() override;

  const std::vector<RatePolicy>& policies() const override { return policies_; }
  LimitResult decide(std::span<const LimitCheck> checks) override;
  LimiterStats stats() const override;
  std::string_view backend() const override { return "redis"; }

  ProbeResult probe() override;
  void drop_connections() override { pool_.drop_all(); }
  std::string last_error() const override;

 private:
  LimitResult fail(std::string why);
  std::string where() const;  // "Redis at URL: ", the start of every error

  struct PolicyArgs {
    std::string emission_ns, span_ns;  // the script's ARGV for this policy
  };
  std::vector<RatePolicy> policies_;
  std::vector<PolicyArgs> args_;
  RedisLimiterOptions options_;
  RedisPool pool_;
  std::unique_ptr<std::atomic<uint64_t>[]> allowed_, refused_;  // by PolicyId
  mutable std::mutex error_mu_;  // guards last_error_
  std::string last_error_;
  std::unique_ptr<RedisConn> probe_conn_;  // only probe() touches it
};

}  // namespace mlgate
