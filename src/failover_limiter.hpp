// failover_limiter.hpp: a shared limiter backend (Redis) with a circuit
// breaker and a configured behaviour for when it cannot decide.
//
// What the caller may rely on
// - While the shared backend is up, every decide() goes to it. The first
//   decide() it cannot answer (timeout, refused connection, error reply)
//   opens the breaker: from then on no request waits on the shared backend
//   until a background probe succeeds. The request that saw the failure is
//   answered by the fallback behaviour too, so it waits at most the
//   backend's own timeout.
// - While it is down, decide() answers by the mode: Local, the embedded
//   limiter decides (each instance on its own: at worst N instances allow N
//   times a budget, never an unlimited one); Closed and Open answer
//   `available` false, and the gate refuses (503) or lets the request
//   through. Either way decide() costs one atomic load more than the
//   fallback alone.
// - A probe thread checks the backend every `probe_interval` while it is
//   down (and every `health_interval` while it is up, so that an idle
//   instance notices an outage too); decisions return to the shared backend
//   within one probe interval of a successful probe, without a restart.
// - Each transition (down, up again) is logged once, as one line, and
//   counted in stats().shared, with the number of decisions each backend
//   (or mode) answered.
// - Threads: every member may be called from any thread; the probe thread
//   is the only caller of RemoteLimiter::probe().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "limiter.hpp"

namespace mlgate {

// What a probe found. `auth` marks a refusal of the credentials, which no
// retry will fix (a configuration error at start-up).
struct ProbeResult {
  bool ok = false;
  bool auth = false;
  std::string error;  // one line, no secrets
};

// A limiter in another process, which can fail and can be probed.
class RemoteLimiter : public Limiter {
 public:
  // Connects (with the connect timeout), authenticates and makes sure the
  // backend can decide. Called by one thread at a time.
  virtual ProbeResult probe() = 0;
  // Forgets pooled connections: after an outage they lead to a dead or
  // restarted server, and the first use of each would fail again.
  virtual void drop_connections() = 0;
  // Why the last decide() that could not decide failed (one line).
  virtual std::string last_error() const = 0;
};

enum class FailMode { Local, Closed, Open };
// "local", "closed", "open"
std::optional<FailMode> parse_fail_mode(std::string_view s);

struct FailoverOptions {
  FailMode mode = FailMode::Local;
  std::chrono::milliseconds probe_interval{250};    // while down
  std::chrono::milliseconds health_interval{1000};  // while up
};

class FailoverLimiter final : public Limiter {
 public:
  // `fallback` decides while `remote` is down; required for FailMode::Local,
  // ignored otherwise. Both must hold the same policies. `up`: what the
  // caller's start-up probe found. Starts the probe thread.
  FailoverLimiter(std::unique_ptr<RemoteLimiter> remote, std::unique_ptr<Limiter> fallback,
                  FailoverOptions options, bool up);
  ~FailoverLimiter() override;  // stops the probe thread

  const std::vector<RatePolicy>& policies() const override { return remote_->policies(); }
  LimitResult decide(std::span<const LimitCheck> checks) override;
  LimiterStats stats() const override;
  void persist() override;  // the fallback's table, so a restart keeps it
  std::string_view backend() const override;

  bool up() const { return up_.load(std::memory_order_acquire); }

 private:
  LimitResult decide_down(std::span<const LimitCheck> checks);
  void trip(const std::string& why);
  void probe_loop(std::stop_token st);

  std::unique_ptr<RemoteLimiter> remote_;
  std::unique_ptr<Limiter> fallback_;
  FailoverOptions options_;
  std::atomic<bool> up_;
  std::atomic<uint64_t> went_down_{0}, came_back_{0};
  std::atomic<uint64_t> by_shared_{0}, by_local_{0}, by_open_{0}, by_closed_{0};
  std::jthread probe_;  // last: stopped and joined before the members above go
};

}  // namespace mlgate
