// redis_limiter.cpp: see redis_limiter.hpp (the script is in redis_script.cpp).
#include "redis_limiter.hpp"

#include <array>
#include <stdexcept>

namespace mlgate {

namespace {

using Clock = RedisConn::Clock;

bool is_error(const RedisReply& r, std::string_view prefix = "") {
  return r && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).substr(0, prefix.size()) == prefix;
}

}  // namespace

RedisLimiter::RedisLimiter(std::vector<RatePolicy> policies, RedisLimiterOptions options)
    : policies_(std::move(policies)),
      options_(std::move(options)),
      pool_(options_.target, options_.connect_timeout, options_.pool_size),
      allowed_(new std::atomic<uint64_t>[policies_.size()]()),
      refused_(new std::atomic<uint64_t>[policies_.size()]()) {
  if (policies_.empty()) throw std::invalid_argument("redis limiter: no policies");
  for (size_t i = 0; i < policies_.size(); ++i) {
    const RatePolicy& p = policies_[i];
    if (!valid_policy_name(p.name) || p.count < 1 || p.period_ns < 1 || p.burst < 1 ||
        p.burst > kMaxBurstSpanNs / p.emission_ns())
      throw std::invalid_argument("redis limiter: invalid policy " + p.name);
    for (size_t j = 0; j < i; ++j)
      if (policies_[j].name == p.name)
        throw std::invalid_argument("redis limiter: duplicate policy " + p.name);
    args_.push_back({std::to_string(p.emission_ns()), std::to_string(p.burst_span_ns())});
  }
}

RedisLimiter::~RedisLimiter() = default;

LimitResult RedisLimiter::fail(std::string why) {
  {
    std::lock_guard lock(error_mu_);
    last_error_ = std::move(why);
  }
  LimitResult r;
  r.available = false;
  return r;
}

std::string RedisLimiter::where() const { return "Redis at " + options_.target.redacted() + ": "; }

std::string RedisLimiter::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

LimitResult RedisLimiter::decide(std::span<const LimitCheck> checks) {
  const size_t n = checks.size();
  if (n > LimitResult::kMaxChecks)
    throw std::invalid_argument("limiter: too many checks for one request");
  for (const LimitCheck& c : checks)
    if (c.policy >= policies_.size()) throw std::invalid_argument("limiter: unknown policy");
  LimitResult result;
  if (n == 0) return result;
  const auto deadline = Clock::now() + options_.command_timeout;

  // EVALSHA sha numkeys KEY... now_s now_ns (T span charge)...
  std::array<std::string, LimitResult::kMaxChecks> keys;
  std::string now_s, now_ns;
  if (options_.clock_override) {
    const int64_t t = options_.clock_override();
    now_s = std::to_string(t / kNsPerSecond);
    now_ns = std::to_string(t % kNsPerSecond);
  }
  static const std::array<std::string, LimitResult::kMaxChecks + 1> kNumKeys = {"0", "1", "2", "3", "4"};
  RedisConn::Command cmd = {"EVALSHA", redis_gcra_sha(), kNumKeys[n]};
  cmd.reserve(3 + 4 * n + 2);
  for (size_t i = 0; i < n; ++i) {
    const std::string& name = policies_[checks[i].policy].name;
    keys[i].reserve(options_.prefix.size() + name.size() + 1 + checks[i].client.size());
    keys[i].append(options_.prefix).append(name).append(1, ':').append(checks[i].client);
    cmd.push_back(keys[i]);
  }
  cmd.push_back(now_s);
  cmd.push_back(now_ns);
  for (size_t i = 0; i < n; ++i) {
    const PolicyArgs& a = args_[checks[i].policy];
    cmd.push_back(a.emission_ns);
    cmd.push_back(a.span_ns);
    cmd.push_back(checks[i].mode == LimitMode::Charge ? "1" : "0");
  }

  std::string err;
  RedisReply reply;
  for (int attempt = 0; attempt < 2 && !reply; ++attempt) {
    auto conn = pool_.acquire(deadline, err);
    if (!conn) return fail(err);  // names the server already
    const bool reused = conn->uses() > 0;
    reply = conn->command(cmd, deadline, err);
    if (is_error(reply, "NOSCRIPT")) {
      // A restarted or failed-over Redis lost the script: load it and run
      // again, in one round trip, within what is left of the budget.
      const std::array<RedisConn::Command, 2> both = {
          RedisConn::Command{"SCRIPT", "LOAD", redis_gcra_script()}, cmd};
      auto replies = conn->pipeline(both, deadline, err);
      reply = replies.size() == 2 ? std::move(replies[1]) : nullptr;
    }
    // A pooled connection the server had closed (its idle `timeout`, or a
    // restart since) gets one retry on a new connection; a timeout does not.
    // The other idle connections are as old: they go too.
    const bool retry = !reply && reused && conn->closed_by_peer();
    pool_.release(std::move(conn));
    if (retry) pool_.drop_idle();
    if (!reply && !retry) return fail(where() + err);
  }
  if (!reply) return fail(where() + err);
  if (reply->type == REDIS_REPLY_ERROR) return fail(where() + redis_reply_text(reply.get()));

  // {now, allowed_1, tat_1, ...}: up to the first refusal, every check.
  const size_t m = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
  if (m < 3 || m % 2 == 0 || m > 1 + 2 * n) return fail(where() + "unexpected reply from the script");
  for (size_t i = 0; i < m; ++i)
    if (reply->element[i]->type != REDIS_REPLY_INTEGER)
      return fail(where() + "unexpected reply from the script");
  const int64_t now = reply->element[0]->integer;
  for (size_t i = 0; i < (m - 1) / 2; ++i) {
    const bool allowed = reply->element[1 + 2 * i]->integer == 1;
    const int64_t tat = reply->element[2 + 2 * i]->integer;
    // The decision and its header values from the same function the
    // embedded backend uses; it must agree with what the script recorded.
    const Decision d = gcra_evaluate(policies_[checks[i].policy], tat, now).d;
    if (d.allowed != allowed) return fail(where() + "the script and gcra_evaluate disagree");
    result.decisions[result.decided++] = d;
  }
  if (result.decided < n && !result.refused())
    return fail(where() + "the script stopped before a refusal");
  for (size_t i = 0; i < result.decided; ++i) {
    if (checks[i].mode != LimitMode::Charge) continue;
    auto& counter = result.decisions[i].allowed ? allowed_[checks[i].policy] : refused_[checks[i].policy];
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

LimiterStats RedisLimiter::stats() const {
  LimiterStats s;
  for (size_t i = 0; i < policies_.size(); ++i)
    s.policies.push_back({policies_[i].name, allowed_[i].load(std::memory_order_relaxed),
                          refused_[i].load(std::memory_order_relaxed)});
  return s;
}

ProbeResult RedisLimiter::probe() {
  std::string err;
  bool auth = false;
  // A connection the probe used before may have been closed since; one
  // retry on a new connection tells an idle close from an outage.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = probe_conn_ != nullptr;
    // A probe is held to what a request gets: Redis counts as up when it
    // answers within the command timeout.
    const auto start = Clock::now();
    if (!probe_conn_) {
      probe_conn_ = RedisConn::open(options_.target, start + options_.connect_timeout,
                                    start + options_.connect_timeout + options_.command_timeout,
                                    err, &auth);
      if (!probe_conn_) return {false, auth, err};
    }
    // SCRIPT LOAD: the server answers, and the script is there for the
    // requests that follow (a restarted Redis has lost it).
    RedisReply r = probe_conn_->command({"SCRIPT", "LOAD", redis_gcra_script()},
                                        Clock::now() + options_.command_timeout, err);
    if (!r) {
      const bool retry = reused && probe_conn_->closed_by_peer();
      probe_conn_.reset();
      if (retry) continue;
      return {false, false, where() + err};
    }
    const std::string text = redis_reply_text(r.get());
    if (r->type == REDIS_REPLY_STRING && text == redis_gcra_sha()) return {true, false, ""};
    probe_conn_.reset();
    auth = is_error(r, "NOAUTH") || is_error(r, "WRONGPASS");
    return {false, auth, where() + "SCRIPT LOAD answered " + text};
  }
  return {false, false, where() + err};
}

}  // namespace mlgate
