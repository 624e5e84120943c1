// failover_limiter.cpp: see failover_limiter.hpp.
#include "failover_limiter.hpp"

#include <stdexcept>

#include "clock.hpp"
#include "log.hpp"
#include "thread_name.hpp"

namespace mlgate {

std::optional<FailMode> parse_fail_mode(std::string_view s) {
  if (s == "local") return FailMode::Local;
  if (s == "closed") return FailMode::Closed;
  if (s == "open") return FailMode::Open;
  return std::nullopt;
}

namespace {

const char* fallback_text(FailMode m) {
  switch (m) {
    case FailMode::Local: return "the embedded limiter of this instance";
    case FailMode::Closed: return "none: requests are refused with 503";
    case FailMode::Open: return "none: requests pass unlimited";
  }
  return "";
}

}  // namespace

FailoverLimiter::FailoverLimiter(std::unique_ptr<RemoteLimiter> remote,
                                 std::unique_ptr<Limiter> fallback, FailoverOptions options,
                                 bool up)
    : remote_(std::move(remote)),
      fallback_(options.mode == FailMode::Local ? std::move(fallback) : nullptr),
      options_(options),
      up_(up) {
  if (options_.mode == FailMode::Local && !fallback_)
    throw std::invalid_argument("failover: --redis-fail local needs the embedded limiter");
  probe_ = std::jthread([this](std::stop_token st) {
    set_thread_name("mlg-redis-probe");
    probe_loop(st);
  });
}

FailoverLimiter::~FailoverLimiter() {
  probe_.request_stop();
  if (probe_.joinable()) probe_.join();
}

LimitResult FailoverLimiter::decide(std::span<const LimitCheck> checks) {
  if (up_.load(std::memory_order_acquire)) {
    LimitResult r = remote_->decide(checks);
    if (r.available) {
      by_shared_.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    trip(remote_->last_error());
  }
  return decide_down(checks);
}

LimitResult FailoverLimiter::decide_down(std::span<const LimitCheck> checks) {
  switch (options_.mode) {
    case FailMode::Local:
      by_local_.fetch_add(1, std::memory_order_relaxed);
      return fallback_->decide(checks);
    case FailMode::Closed:
      by_closed_.fetch_add(1, std::memory_order_relaxed);
      break;
    case FailMode::Open:
      by_open_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  if (checks.size() > LimitResult::kMaxChecks)
    throw std::invalid_argument("limiter: too many checks for one request");
  LimitResult r;
  r.available = false;
  return r;
}

// Only the caller that flips `up_` logs and counts, so a burst of failing
// requests makes one line.
void FailoverLimiter::trip(const std::string& why) {
  bool expected = true;
  if (!up_.compare_exchange_strong(expected, false, std::memory_order_acq_rel)) return;
  went_down_.fetch_add(1, std::memory_order_relaxed);
  remote_->drop_connections();
  Log::instance().warn("redis unavailable; rate limits decided by the fallback until it returns",
                       {{"error", why}, {"fallback", fallback_text(options_.mode)}});
}

void FailoverLimiter::probe_loop(std::stop_token st) {
  using clock = std::chrono::steady_clock;
  auto next_health = clock::now() + options_.health_interval;
  while (sleep_for(st, options_.probe_interval)) {
    if (up_.load(std::memory_order_acquire)) {
      if (clock::now() < next_health) continue;
      next_health = clock::now() + options_.health_interval;
      const ProbeResult p = remote_->probe();
      if (!p.ok) trip(p.error);
      continue;
    }
    const ProbeResult p = remote_->probe();
    if (!p.ok) continue;
    // Only this thread sets up_ to true, so the flip is counted once.
    up_.store(true, std::memory_order_release);
    came_back_.fetch_add(1, std::memory_order_relaxed);
    next_health = clock::now() + options_.health_interval;
    Log::instance().info("redis reachable again; rate limits shared through it");
  }
}

LimiterStats FailoverLimiter::stats() const {
  LimiterStats remote = remote_->stats();
  LimiterStats s = fallback_ ? fallback_->stats() : LimiterStats{};
  // Decisions by policy, whoever made them.
  if (s.policies.empty()) s.policies = remote.policies;
  else
    for (size_t i = 0; i < s.policies.size() && i < remote.policies.size(); ++i) {
      s.policies[i].allowed += remote.policies[i].allowed;
      s.policies[i].refused += remote.policies[i].refused;
    }
  SharedLimiterStats sh;
  sh.up = up();
  sh.went_down = went_down_.load(std::memory_order_relaxed);
  sh.came_back = came_back_.load(std::memory_order_relaxed);
  sh.by_shared = by_shared_.load(std::memory_order_relaxed);
  sh.by_local = by_local_.load(std::memory_order_relaxed);
  sh.by_open = by_open_.load(std::memory_order_relaxed);
  sh.by_closed = by_closed_.load(std::memory_order_relaxed);
  s.shared = sh;
  return s;
}

void FailoverLimiter::persist() {
  if (fallback_) fallback_->persist();
}

std::string_view FailoverLimiter::backend() const {
  if (up()) return remote_->backend();
  switch (options_.mode) {
    case FailMode::Local: return "local (redis unavailable)";
    case FailMode::Closed: return "closed (redis unavailable)";
    case FailMode::Open: return "open (redis unavailable)";
  }
  return "";
}

}  // namespace mlgate
