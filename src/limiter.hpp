// limiter.hpp: the rate-limit interface the gate decides with.
//
// What the caller may rely on, whatever the backend (the embedded table in
// local_limiter.hpp; a shared one may live in another process):
// - Policies. A limiter holds a fixed list of policies (gcra.hpp), known
//   across processes by name. A PolicyId is an index into that list, valid
//   within one process only; find_policy() maps a name to it.
// - Clients. A client is any string the caller chooses (an address key, a
//   key id). Two processes that name the same client and policy share one
//   budget if they share a backend.
// - One call a request. decide() takes every check one request needs and
//   evaluates them in order, at one instant of the backend's own clock:
//   a Charge check that is allowed is recorded; a Peek check records
//   nothing; evaluation stops at the first refusal, so later checks are
//   neither decided nor recorded and earlier charges stand. A request
//   refused by its per-address limit thus never spends its key's budget,
//   and a remote backend answers a request in one round trip.
// - Failure. A backend that cannot decide (its store is down or slow)
//   answers with `available` false and no decisions; the caller applies the
//   behaviour the operator configured. The embedded backend always decides.
// - Threads. Every member may be called concurrently from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gcra.hpp"

namespace mlgate {

using PolicyId = uint32_t;  // index into the limiter's policy list

enum class LimitMode : uint8_t {
  Charge,  // decide and, if allowed, record
  Peek,    // decide only ("is this address's failed-key budget spent?")
};

struct LimitCheck {
  PolicyId policy = 0;
  std::string_view client;
  LimitMode mode = LimitMode::Charge;
};

struct LimitResult {
  static constexpr size_t kMaxChecks = 4;  // checks one decide() may take
  bool available = true;  // false: the backend could not decide
  size_t decided = 0;     // decisions[0..decided): one per check evaluated
  std::array<Decision, kMaxChecks> decisions{};

  // Every check was decided and allowed.
  bool allowed() const { return available && !refused(); }
  // The last decided check was refused (evaluation stopped there).
  bool refused() const { return decided > 0 && !decisions[decided - 1].allowed; }
};

struct PolicyCounters {
  std::string name;
  uint64_t allowed = 0;
  uint64_t refused = 0;
};

// A shared backend behind a failover (failover_limiter.hpp): whether it
// decides now, its outages, and which backend answered each decide() call.
struct SharedLimiterStats {
  bool up = false;
  uint64_t went_down = 0, came_back = 0;  // transitions, each logged once
  uint64_t by_shared = 0, by_local = 0, by_open = 0, by_closed = 0;
};

// What /metrics shows of a limiter; a backend fills what it has.
struct LimiterStats {
  uint64_t capacity = 0;          // embedded table: clients it can hold
  uint64_t entries = 0;           // embedded table: clients in it
  uint64_t forced_evictions = 0;  // a not-yet-refilled entry was forgotten
  uint64_t refilled_reused = 0;   // a refilled entry's slot was reused (harmless)
  uint64_t rehomed = 0;           // entries moved to the half of the CPU serving them
  std::vector<PolicyCounters> policies;  // in PolicyId order
  std::optional<SharedLimiterStats> shared;  // only with a shared backend
};

class Limiter {
 public:
  virtual ~Limiter() = default;

  virtual const std::vector<RatePolicy>& policies() const = 0;
  std::optional<PolicyId> find_policy(std::string_view name) const;
  const RatePolicy& policy(PolicyId id) const { return policies()[id]; }

  // At most LimitResult::kMaxChecks checks (more is a programming error:
  // std::invalid_argument).
  virtual LimitResult decide(std::span<const LimitCheck> checks) = 0;

  virtual LimiterStats stats() const = 0;
  // Saves what the backend keeps only in this process (the embedded table,
  // so that a restart keeps its limits); a no-op for a shared backend.
  // Throws what its storage throws.
  virtual void persist() {}
  // Who decides now, for /health and logs: "local", "redis",
  // "local (redis unavailable)", ...
  virtual std::string_view backend() const = 0;
};

}  // namespace mlgate
