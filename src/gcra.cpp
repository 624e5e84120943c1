// gcra.cpp: see gcra.hpp.
#include "gcra.hpp"

#include <algorithm>
#include <charconv>

#include "printable.hpp"

namespace mlgate {

// ---------------------------------------------------------------- parsing

namespace {

// One request a nanosecond: the clock's resolution. (Benchmarks configure
// effectively unlimited tiers such as 1000000000/s.)
constexpr int64_t kMaxPerSecond = 1'000'000'000;

// Strict decimal: digits only (no sign, no spaces). Values past 10^18 are
// reported as too large rather than wrapped.
struct Count {
  int64_t value = 0;
  const char* error = nullptr;
};
Count parse_count(std::string_view s, const char* what_bad, const char* what_large) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {0, what_bad};
  const size_t zeros = std::min(s.find_first_not_of('0'), s.size() - 1);
  if (s.size() - zeros > 18) return {0, what_large};
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return {v, nullptr};
}

std::optional<int64_t> unit_ns(std::string_view unit) {
  if (unit == "s") return kNsPerSecond;
  if (unit == "min") return 60 * kNsPerSecond;
  if (unit == "h") return 3600 * kNsPerSecond;
  return std::nullopt;
}

RateParse fail(std::string_view text, std::string_view why) {
  return {std::nullopt, "invalid rate \"" + printable(text) + "\": " + std::string(why)};
}

}  // namespace

bool valid_policy_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

RateParse parse_rate(std::string_view text, std::string_view name) {
  if (!valid_policy_name(name))
    return fail(text, "policy name \"" + printable(name) + "\" must be 1-32 of A-Z a-z 0-9 _ . -");
  std::string_view rate = text, extra;
  if (auto comma = text.find(','); comma != std::string_view::npos) {
    rate = text.substr(0, comma);
    extra = text.substr(comma + 1);
  }
  const auto slash = rate.find('/');
  if (slash == std::string_view::npos) return fail(text, "expected N/s, N/min or N/h");
  const Count count = parse_count(rate.substr(0, slash), "the count must be a whole number",
                                  "more than 1000000000 requests a second");
  if (count.error) return fail(text, count.error);
  if (count.value < 1) return fail(text, "the count must be at least 1");
  const auto period = unit_ns(rate.substr(slash + 1));
  if (!period) return fail(text, "the unit must be s, min or h");
  if (count.value > kMaxPerSecond * (*period / kNsPerSecond))
    return fail(text, "more than 1000000000 requests a second");

  RatePolicy p{std::string(name), count.value, *period, count.value};
  if (text.find(',') != std::string_view::npos) {
    constexpr std::string_view kBurst = "burst=";
    if (extra.substr(0, kBurst.size()) != kBurst) return fail(text, "after the comma expected burst=B");
    const Count burst = parse_count(extra.substr(kBurst.size()), "the burst must be a whole number",
                                    "the burst takes more than 30 days to refill");
    if (burst.error) return fail(text, burst.error);
    if (burst.value < 1) return fail(text, "the burst must be at least 1");
    p.burst = burst.value;
  }
  if (p.burst > kMaxBurstSpanNs / p.emission_ns())
    return fail(text, "the burst takes more than 30 days to refill");
  return {std::move(p), {}};
}

// ---------------------------------------------------------------- GCRA

GcraOutcome gcra_evaluate(const RatePolicy& p, int64_t tat, int64_t now) {
  const int64_t T = p.emission_ns();
  const int64_t span = p.burst_span_ns();
  tat = std::max(tat, now);
  const int64_t new_tat = tat + T;
  const int64_t allow_at = new_tat - span;  // == tat - (B-1)*T
  GcraOutcome o{{}, new_tat};
  if (now < allow_at) {
    const int64_t wait = allow_at - now;
    o.d.allowed = false;
    o.d.remaining = 0;
    o.d.wait_ns = wait;
    o.d.retry_after_s = detail::ceil_seconds(wait);  // wait > 0, so >= 1
    o.d.reset_s = o.d.retry_after_s;                 // same instant
    o.d.full_ns = tat - now;
    return o;
  }
  const int64_t level = new_tat - now;          // in (0, span]
  const int64_t r = (span - level) / T;         // whole requests left
  const int64_t next_unit = level - (p.burst - r - 1) * T;  // in (0, T]
  o.d.allowed = true;
  o.d.remaining = r;
  o.d.reset_s = detail::ceil_seconds(next_unit);
  o.d.full_ns = level;
  return o;
}

std::string ratelimit_policy_item(const RatePolicy& p) {
  // Names are restricted by valid_policy_name, so they need no escaping
  // inside a structured-field string.
  return "\"" + p.name + "\";q=" + std::to_string(p.count) +
         ";w=" + std::to_string(p.period_ns / kNsPerSecond);
}

std::string ratelimit_item(const RatePolicy& p, const Decision& d) {
  return "\"" + p.name + "\";r=" + std::to_string(d.remaining) + ";t=" + std::to_string(d.reset_s);
}

std::string rate_limited_message(int64_t retry_after_s) {
  return "Rate limit exceeded. Try again in " + std::to_string(retry_after_s) + " seconds.";
}

}  // namespace mlgate
