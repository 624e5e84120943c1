// local_limiter.hpp: the embedded limiter backend: the bounded in-process
// table of rate_limiter.hpp behind the Limiter interface (limiter.hpp).
//
// - Clock: monotonic nanoseconds for decisions, wall time only to translate
//   saved TATs between processes; both injectable for tests.
// - Persistence: given a LimiterStateStore, the constructor restores the
//   table saved by an earlier process (same hash seed, TATs translated
//   through wall time, refilled entries dropped) and persist() saves it.
//   A saved state that cannot be read (a storage error, a malformed blob)
//   is logged and ignored: limits start empty, which can only let a client
//   through sooner, never lock one out.
// - Never unavailable: every decide() decides.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "limiter.hpp"
#include "limiter_state.hpp"
#include "rate_limiter.hpp"

namespace mlgate {

struct LimiterClock {
  std::function<int64_t()> mono_ns;  // decisions
  std::function<int64_t()> wall_ns;  // translating saved state
  static LimiterClock system();
};

class LocalLimiter final : public Limiter {
 public:
  // Throws std::invalid_argument for invalid or duplicate policies.
  LocalLimiter(std::vector<RatePolicy> policies, LimiterOptions options,
               LimiterStateStore* state = nullptr, LimiterClock clock = LimiterClock::system());

  const std::vector<RatePolicy>& policies() const override { return policies_; }
  LimitResult decide(std::span<const LimitCheck> checks) override;
  LimiterStats stats() const override { return table_->stats(); }
  void persist() override;
  std::string_view backend() const override { return "local"; }

  // The table itself, for tests and benchmarks.
  RateLimiter& table() { return *table_; }

 private:
  std::vector<RatePolicy> policies_;
  LimiterStateStore* state_;
  LimiterClock clock_;
  std::unique_ptr<RateLimiter> table_;
};

}  // namespace mlgate
