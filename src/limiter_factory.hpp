// limiter_factory.hpp: the limiter the configuration asks for.
//
// Without --redis: the embedded LocalLimiter, and nothing of Redis runs (no
// connection, no thread, no per-request cost). With --redis: a
// RedisLimiter behind a FailoverLimiter (failover_limiter.hpp), after one
// start-up probe:
// - Redis answers: decisions are shared from the first request.
// - Redis refuses the credentials: ConfigError (exit status 2), one line;
//   a wrong password is never fixed by waiting.
// - Redis cannot be reached: with --redis-fail closed, StartupError (the
//   operator asked for no decision without Redis); otherwise one warning
//   line, and the instance starts in its fallback until the probe succeeds.
#pragma once

#include <memory>
#include <vector>

#include "config.hpp"
#include "limiter.hpp"
#include "limiter_state.hpp"
#include "rate_limiter.hpp"

namespace mlgate {

class RemoteLimiter;

// Two steps, so that a Redis that refuses the configuration stops start-up
// with its one line before anything is written to the data directory.
class LimiterFactory {
 public:
  // With --redis: builds the Redis limiter and probes it once (the cases
  // above; throws ConfigError or StartupError). Without: does nothing.
  LimiterFactory(const Config& cfg, std::vector<RatePolicy> policies);
  ~LimiterFactory();
  // The limiter, once: the embedded one keeps its state in `state`.
  std::unique_ptr<Limiter> make(LimiterOptions local_options, LimiterStateStore* state);

 private:
  const Config& cfg_;
  std::vector<RatePolicy> policies_;
  std::unique_ptr<RemoteLimiter> remote_;
  bool up_ = false;
};

}  // namespace mlgate
