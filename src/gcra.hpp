// gcra.hpp: rate policies, the GCRA decision and the RateLimit headers.
//
// The arithmetic every limiter backend shares (the embedded table in
// rate_limiter.hpp, a shared one in Redis): a backend stores one theoretical
// arrival time (TAT) per client and policy, and gcra_evaluate() turns a TAT
// and a time into the decision and its header values, so two backends that
// store the same TATs give the same answers and the same headers.
//
// - Policies. "N/s", "N/min" or "N/h", optionally ",burst=B" (parse_rate).
//   The emission interval is T = period/N, rounded up to a whole nanosecond
//   (exact whenever N divides the period in nanoseconds, e.g. 5/min, 20/min,
//   1000/s; otherwise the limit is stricter by less than one part in T_ns).
//   B is how many requests may arrive at once from a client whose budget is
//   full. Decision: the default burst is B = N, so "5/min" means what its
//   users expect from the original service: five requests at once are
//   allowed, the sixth is refused, and after that one more request every
//   12 s (T). The long-run rate is exactly N per period; like every token
//   bucket, a client that starts with a full budget can make up to
//   B + N - 1 requests in its first period. `burst=1` gives strict spacing.
// - Decisions. GCRA, one theoretical arrival time (TAT) per client, integer
//   nanoseconds on a clock the caller passes in (`now_ns`, monotonic), so
//   tests never sleep and there is no floating-point drift. A request at
//   `now` is allowed iff now >= TAT - (B-1)*T; an allowed request moves TAT
//   to max(TAT, now) + T; a refused one changes nothing.
// - Headers (draft-ietf-httpapi-ratelimit-headers-10, structured fields):
//     RateLimit-Policy: "free";q=5;w=60       (q = N, w = period in seconds)
//     RateLimit: "free";r=3;t=12
//   r is the number of further requests that would be allowed right now.
//   t is the number of seconds, rounded up, until r next grows by one: the
//   window within which the client can make no more than r requests. For a
//   refused request r = 0 and t equals Retry-After (both are the time until
//   the next request is allowed, rounded up, never 0), so the two fields
//   name the same instant as the draft asks. t is therefore at most
//   ceil(T) seconds; the time until the budget is completely full again is
//   in Decision::full_ns for anyone who wants it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

inline constexpr int64_t kNsPerSecond = 1'000'000'000;
// The longest a burst may take to refill (B*T): a client is never locked
// out for longer by one policy.
inline constexpr int64_t kMaxBurstSpanNs = int64_t{30} * 24 * 3600 * kNsPerSecond;

struct RatePolicy {
  std::string name;       // identifier in headers and metrics: [A-Za-z0-9_.-]{1,32}
  int64_t count = 0;      // N requests ...
  int64_t period_ns = 0;  // ... per period: 1 s, 60 s or 3600 s
  int64_t burst = 0;      // B: requests that may arrive at once, >= 1

  // T = period/N rounded up to a whole nanosecond.
  int64_t emission_ns() const { return (period_ns + count - 1) / count; }
  // B*T: how far ahead of now a client's TAT may run and still be allowed.
  int64_t burst_span_ns() const { return burst * emission_ns(); }
};

// parse_rate's result: `policy` on success, else a one-line `error` that
// names the problem ("rate \"5/week\": unit must be s, min or h").
struct RateParse {
  std::optional<RatePolicy> policy;
  std::string error;
  explicit operator bool() const { return policy.has_value(); }
};

// Accepts exactly "N/s", "N/min", "N/h", each optionally followed by
// ",burst=B" (no spaces). 1 <= N, 1 <= B, at most 1,000,000,000 requests a
// second (one a nanosecond, the clock's resolution), and B*T at most 30 days.
RateParse parse_rate(std::string_view text, std::string_view name);
bool valid_policy_name(std::string_view name);

struct Decision {
  bool allowed = false;
  int64_t remaining = 0;      // r: requests that would still be allowed now
  int64_t reset_s = 0;        // t: seconds (rounded up) until r grows by one
  int64_t retry_after_s = 0;  // refused: seconds (rounded up, >= 1) until a
                              // request is allowed, == reset_s; allowed: 0
  int64_t wait_ns = 0;        // refused: exact ns until allowed; allowed: 0
  int64_t full_ns = 0;        // ns until the budget is full (r == B) again
};

// `"free";q=5;w=60`: one item of RateLimit-Policy. Join several with ", ".
std::string ratelimit_policy_item(const RatePolicy& policy);
// `"free";r=3;t=12`: one item of RateLimit. Join several with ", ".
std::string ratelimit_item(const RatePolicy& policy, const Decision& d);
// "Rate limit exceeded. Try again in 12 seconds."
std::string rate_limited_message(int64_t retry_after_s);

// The whole algorithm. `tat` is the stored TAT, or now for an unknown client
// (an unknown client and one whose TAT has passed are the same thing); both
// in integer nanoseconds on one clock. If `d.allowed`, the backend stores
// `new_tat`; a refused request changes nothing.
struct GcraOutcome {
  Decision d;
  int64_t new_tat;
};
GcraOutcome gcra_evaluate(const RatePolicy& policy, int64_t tat, int64_t now);

namespace detail {
// ceil(ns / 1e9) for ns >= 0.
inline int64_t ceil_seconds(int64_t ns) { return (ns + kNsPerSecond - 1) / kNsPerSecond; }
}  // namespace detail

}  // namespace mlgate
