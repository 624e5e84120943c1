// Fuzz target: RATE values ("5/min", "50/s,burst=100") as flags,
// environment and config file give them, and the decisions a policy that
// parsed gives.
// Input: the rate text, '\n', the policy name, '\n', then a schedule: each
// pair of bytes is one request (the first byte picks one of two clients
// and peek or decide, the second how far the clock moves before it).
// Properties:
// - an accepted rate has 1 <= N, 1 <= B, a period of 1 s, 60 s or 1 h, at
//   most 10^9 requests a second, and a burst span of at most 30 days; a
//   refused one has a one-line error;
// - round trip: the canonical spelling of an accepted policy parses to the
//   same policy;
// - the limiter built from it decides every request exactly as an
//   independent GCRA model does (128-bit arithmetic, one TAT per client),
//   peek() answers what decide() then does, and the headers' figures keep
//   their contract: r in [0, B-1], t >= 1, a refusal waits (0, T] with
//   Retry-After == t, an allowance has Retry-After 0.
// fuzz-dict: rate
#include <map>
#include <string>

#include "fuzz_check.hpp"
#include "rate_limiter.hpp"

namespace {

using mlgate::RatePolicy;
using i128 = __int128;

std::string canonical(const RatePolicy& p) {
  const char* unit = p.period_ns == mlgate::kNsPerSecond ? "s" : p.period_ns == 60 * mlgate::kNsPerSecond ? "min" : "h";
  std::string s = std::to_string(p.count) + "/" + unit;
  if (p.burst != p.count) s += ",burst=" + std::to_string(p.burst);
  return s;
}

// GCRA as the paper states it, in 128 bits so nothing can wrap.
struct Model {
  i128 T, span;
  std::map<int, i128> tat;
  bool allows(int client, i128 now) const {
    auto it = tat.find(client);
    const i128 t = it == tat.end() ? now : std::max(it->second, now);
    return now >= t + T - span;
  }
  void record(int client, i128 now) {
    auto it = tat.find(client);
    const i128 t = it == tat.end() ? now : std::max(it->second, now);
    tat[client] = t + T;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [text, rest] = fuzz::split(fuzz::as_text(data, size), '\n');
  const auto [name_in, schedule] = fuzz::split(rest, '\n');
  const std::string_view name = name_in.empty() ? "free" : name_in;

  const auto r = mlgate::parse_rate(text, name);
  if (!r) {
    FUZZ_CHECK(!r.error.empty() && r.error.find('\n') == std::string::npos);
    return 0;
  }
  const RatePolicy p = *r.policy;
  constexpr int64_t s = mlgate::kNsPerSecond;
  FUZZ_CHECK(p.name == name && mlgate::valid_policy_name(p.name));
  FUZZ_CHECK(p.count >= 1 && p.burst >= 1);
  FUZZ_CHECK(p.period_ns == s || p.period_ns == 60 * s || p.period_ns == 3600 * s);
  FUZZ_CHECK(i128(p.count) * s <= i128(1'000'000'000) * p.period_ns);
  const int64_t T = p.emission_ns();
  FUZZ_CHECK(T >= 1 && i128(T) * p.count >= p.period_ns && i128(T - 1) * p.count < p.period_ns);
  FUZZ_CHECK(i128(p.burst) * T <= i128(30) * 24 * 3600 * s);

  const auto again = mlgate::parse_rate(canonical(p), name);
  FUZZ_CHECK(again && again.policy->count == p.count && again.policy->period_ns == p.period_ns &&
             again.policy->burst == p.burst);
  FUZZ_CHECK(mlgate::ratelimit_policy_item(p) == "\"" + p.name + "\";q=" + std::to_string(p.count) +
                                                    ";w=" + std::to_string(p.period_ns / s));

  mlgate::LimiterOptions opt;
  opt.capacity = 64;
  opt.shards = 1;
  opt.seed = mlgate::HashSeed{1, 2};
  mlgate::RateLimiter lim({p}, opt);
  Model model{T, i128(p.burst) * T, {}};
  int64_t now = int64_t{1} << 50;  // a monotonic clock some days after boot
  for (size_t i = 0; i + 1 < schedule.size(); i += 2) {
    const auto op = static_cast<unsigned char>(schedule[i]);
    const auto step = static_cast<unsigned char>(schedule[i + 1]);
    // Steps in units of T/8 up to 32 T: around the interesting instants.
    now += static_cast<int64_t>(std::min<i128>(i128(T) * step / 8, int64_t{1} << 48));
    const int client = op & 1;
    const std::string id = client ? "198.51.100.7" : "2001:db8::/64";
    const mlgate::Decision peeked = lim.peek(0, id, now);
    const bool record = !(op & 2);
    const mlgate::Decision d = record ? lim.decide(0, id, now) : peeked;
    FUZZ_CHECK(d.allowed == peeked.allowed && d.remaining == peeked.remaining &&
               d.reset_s == peeked.reset_s && d.retry_after_s == peeked.retry_after_s);
    FUZZ_CHECK(d.allowed == model.allows(client, now));
    if (d.allowed && record) model.record(client, now);
    FUZZ_CHECK(d.remaining >= 0 && d.remaining <= p.burst - 1);
    FUZZ_CHECK(d.reset_s >= 1 && d.reset_s <= mlgate::detail::ceil_seconds(T));
    FUZZ_CHECK(d.full_ns >= 0 && d.full_ns <= p.burst_span_ns());
    if (d.allowed) {
      FUZZ_CHECK(d.retry_after_s == 0 && d.wait_ns == 0);
    } else {
      FUZZ_CHECK(d.remaining == 0 && d.wait_ns > 0 && d.wait_ns <= T);
      FUZZ_CHECK(d.retry_after_s == mlgate::detail::ceil_seconds(d.wait_ns) && d.reset_s == d.retry_after_s);
    }
  }
  return 0;
}
