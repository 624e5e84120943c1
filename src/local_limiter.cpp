// local_limiter.cpp: see local_limiter.hpp.
#include "local_limiter.hpp"

#include <stdexcept>

#include "clock.hpp"
#include "log.hpp"

namespace mlgate {

std::optional<PolicyId> Limiter::find_policy(std::string_view name) const {
  const auto& ps = policies();
  for (size_t i = 0; i < ps.size(); ++i)
    if (ps[i].name == name) return static_cast<PolicyId>(i);
  return std::nullopt;
}

LimiterClock LimiterClock::system() {
  return {[] { return mlgate::mono_ns(); }, [] { return mlgate::wall_ms() * 1'000'000; }};
}

namespace {

// The saved table, if there is a readable one; anything else is logged and
// ignored (see the header).
std::optional<LimiterSnapshot> load_saved(LimiterStateStore* state) {
  if (!state) return std::nullopt;
  std::optional<std::string> blob;
  try {
    blob = state->load_limiter_state();
  } catch (const std::exception& e) {
    Log::instance().warn("saved rate-limit state unreadable; starting empty",
                         {{"error", e.what()}});
    return std::nullopt;
  }
  if (!blob) return std::nullopt;
  auto snap = decode_snapshot(*blob);
  if (!snap)
    Log::instance().warn("saved rate-limit state unreadable; starting empty",
                         {{"bytes", blob->size()}});
  return snap;
}

}  // namespace

LocalLimiter::LocalLimiter(std::vector<RatePolicy> policies, LimiterOptions options,
                           LimiterStateStore* state, LimiterClock clock)
    : policies_(policies), state_(state), clock_(std::move(clock)) {
  auto saved = load_saved(state_);
  // A restarted server keeps its limits: the saved hash seed makes the
  // saved keys mean the same clients.
  if (saved) options.seed = saved->seed;
  table_ = std::make_unique<RateLimiter>(std::move(policies), options);
  if (saved) table_->restore(*saved, clock_.mono_ns(), clock_.wall_ns());
}

LimitResult LocalLimiter::decide(std::span<const LimitCheck> checks) {
  if (checks.size() > LimitResult::kMaxChecks)
    throw std::invalid_argument("limiter: too many checks for one request");
  LimitResult r;
  const int64_t now = clock_.mono_ns();
  for (const LimitCheck& c : checks) {
    const Decision d = c.mode == LimitMode::Charge ? table_->decide(c.policy, c.client, now)
                                                   : table_->peek(c.policy, c.client, now);
    r.decisions[r.decided++] = d;
    if (!d.allowed) break;
  }
  return r;
}

void LocalLimiter::persist() {
  if (!state_) return;
  auto snap = table_->snapshot(clock_.mono_ns(), clock_.wall_ns());
  state_->save_limiter_state(encode_snapshot(snap));
}

}  // namespace mlgate
