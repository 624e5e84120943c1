// limiter_factory.cpp: see limiter_factory.hpp.
#include "limiter_factory.hpp"

#include "failover_limiter.hpp"
#include "local_limiter.hpp"
#include "log.hpp"
#include "server.hpp"

#if MLGATE_HAVE_HIREDIS
#include "redis_limiter.hpp"
#endif

namespace mlgate {

LimiterFactory::LimiterFactory(const Config& cfg, std::vector<RatePolicy> policies)
    : cfg_(cfg), policies_(std::move(policies)) {
  if (cfg.redis.empty()) return;
#if !MLGATE_HAVE_HIREDIS
  throw ConfigError("--redis: this mlgate was built without Redis support (hiredis)");
#else
  auto url = parse_redis_url(cfg.redis);
  if (!url.target) throw ConfigError(url.error);
  const FailMode mode = parse_fail_mode(cfg.redis_fail).value_or(FailMode::Local);
  RedisLimiterOptions ro;
  ro.target = *url.target;
  ro.prefix = cfg.redis_prefix;
  ro.connect_timeout = std::chrono::milliseconds(cfg.redis_connect_timeout_ms);
  ro.command_timeout = std::chrono::milliseconds(cfg.redis_timeout_ms);
  auto remote = std::make_unique<RedisLimiter>(policies_, ro);
  const ProbeResult p = remote->probe();
  if (!p.ok && p.auth) throw ConfigError(p.error);
  if (!p.ok && mode == FailMode::Closed)
    throw StartupError(p.error + " (with --redis-fail closed mlgate does not start without Redis)");
  if (p.ok)
    Log::instance().info("rate limits shared through redis",
                         {{"redis", ro.target.redacted()}, {"prefix", ro.prefix},
                          {"on_failure", cfg.redis_fail}});
  else
    Log::instance().warn("redis unreachable at start-up; rate limits decided by the fallback until it answers",
                         {{"error", p.error}, {"on_failure", cfg.redis_fail}});
  remote_ = std::move(remote);
  up_ = p.ok;
#endif
}

LimiterFactory::~LimiterFactory() = default;

std::unique_ptr<Limiter> LimiterFactory::make(LimiterOptions local_options, LimiterStateStore* state) {
  if (!remote_) return std::make_unique<LocalLimiter>(std::move(policies_), local_options, state);
  const FailMode mode = parse_fail_mode(cfg_.redis_fail).value_or(FailMode::Local);
  std::unique_ptr<Limiter> local;
  if (mode == FailMode::Local)
    local = std::make_unique<LocalLimiter>(std::move(policies_), local_options, state);
  FailoverOptions fo;
  fo.mode = mode;
  return std::make_unique<FailoverLimiter>(std::move(remote_), std::move(local), fo, up_);
}

}  // namespace mlgate
