// Fuzz target: the whole pre-routing chain (Gate, security.hpp) on a
// request view built from the input, with the embedded limiter (small
// budgets, so limits are reached) and a fixed set of keys.
// Input: lines: the method, the path, the peer address, a limiter mode
// ("up", "down-closed" or "down-open"; anything else is "up"), then header
// lines "Name: value" (the fields the gate reads; others are ignored). The
// gate trusts X-Forwarded-For from 127.0.0.0/8 and ::1, allows the CORS
// origin https://app.example, and caps bodies at 1000 bytes. The keys are
// "key-all" (every scope), "key-read" (read only, premium tier) and
// "key-odd" (predict and read, a tier the gate does not configure).
// Properties:
// - the status is 0 (passed) or one of the contract's answers before a
//   handler: 204 (a preflight), 400, 401, 403, 404, 405, 411, 413, 415,
//   429, 503; a refusal has a detail unless it is the 204 of an OPTIONS;
//   401 carries WWW-Authenticate, 429 and 503 Retry-After, 405 Allow;
// - a refused request never reaches a handler (its next step is one of the
//   refusals), and one that may carry unread body bytes is never answered
//   on a connection kept open without reading them;
// - a request that passes has its route, which the method (HEAD as GET)
//   and path select; on a route that needs a key it carries a known key
//   with the route's scope (unless its body is over the cap: 413 follows);
// - a known key in the context is the one presented;
// - a limiter that cannot decide gives 503 when closed; when open, the
//   answer is what the key and scope alone decide (never 429, never 503).
// fuzz-dict: http ip
// fuzz-max-len: 1024
#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "fuzz_check.hpp"
#include "key_store.hpp"
#include "local_limiter.hpp"
#include "security.hpp"

namespace {

using namespace mlgate;

// Keys by their presented value; what KeyCache would answer for them.
class FixedKeys final : public KeySource {
 public:
  FixedKeys() {
    add("key-all", "all", kAllScopes, "free");
    add("key-read", "reader", kScopeRead, "premium");
    add("key-odd", "odd", kDefaultScopes, "gold");
  }
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented, int64_t) override {
    auto it = keys_.find(std::string(presented));
    return it == keys_.end() ? nullptr : it->second;
  }

 private:
  void add(const char* key, const char* id, uint32_t scopes, const char* tier) {
    auto r = std::make_shared<KeyRecord>();
    r->id = r->name = r->owner = id;
    r->scopes = scopes;
    r->tier = tier;
    keys_[key] = std::move(r);
  }
  std::map<std::string, std::shared_ptr<const KeyRecord>> keys_;
};

// The embedded limiter, or the answer of a shared one that is down.
class SwitchedLimiter final : public Limiter {
 public:
  SwitchedLimiter(std::unique_ptr<Limiter> inner, bool down) : inner_(std::move(inner)), down_(down) {}
  const std::vector<RatePolicy>& policies() const override { return inner_->policies(); }
  LimitResult decide(std::span<const LimitCheck> checks) override {
    if (!down_) return inner_->decide(checks);
    LimitResult r;
    r.available = false;
    return r;
  }
  LimiterStats stats() const override { return inner_->stats(); }
  std::string_view backend() const override { return down_ ? "down" : "local"; }

 private:
  std::unique_ptr<Limiter> inner_;
  bool down_;
};

bool known_status(int s) {
  for (int k : {0, 204, 400, 401, 403, 404, 405, 411, 413, 415, 429, 503})
    if (s == k) return true;
  return false;
}

bool has_header(const GateVerdict& v, std::string_view name) {
  for (const auto& h : v.headers)
    if (name == h.first) return true;
  return false;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const GatePolicies policies = [] {
    Config cfg;
    cfg.limit_ip = "6/min";
    cfg.limit_auth_fail = "3/min";
    cfg.limit_poll = "4/min";
    cfg.tiers = {{"free", "2/min"}, {"premium", "3/min"}};
    return gate_policies(cfg);
  }();
  static FixedKeys keys;

  auto [method, rest] = fuzz::split(fuzz::as_text(data, size), '\n');
  auto [path, rest2] = fuzz::split(rest, '\n');
  auto [peer, rest3] = fuzz::split(rest2, '\n');
  auto [mode, headers] = fuzz::split(rest3, '\n');

  RequestView req;
  req.method = method;
  req.path = path;
  req.peer = peer;
  bool ct = false, expect = false, auth = false;
  std::string_view presented;
  bool presented_set = false;
  while (!headers.empty()) {
    auto [line, more] = fuzz::split(headers, '\n');
    headers = more;
    auto [name, value] = fuzz::split(line, ':');
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (iequals(name, "Transfer-Encoding")) req.transfer_encoding = true;
    else if (iequals(name, "Content-Encoding")) req.content_encoding = true;
    else if (iequals(name, "Content-Length") && req.content_length_count++ == 0) req.content_length = value;
    else if (iequals(name, "Content-Type") && !ct) ct = true, req.content_type = value;
    else if (iequals(name, "Expect") && !expect) expect = true, req.expect = value;
    else if (iequals(name, "X-API-Key") && !req.api_key) req.api_key = value;
    else if (iequals(name, "Authorization") && !auth) auth = true, req.authorization = value;
    else if (iequals(name, "Origin") && !req.origin) req.origin = value;
    else if (iequals(name, "X-Forwarded-For")) req.forwarded_for.push_back(value);
  }
  if (req.api_key) presented = *req.api_key, presented_set = true;
  else if (req.authorization.size() > 7 && iequals(req.authorization.substr(0, 7), "Bearer "))
    presented = req.authorization.substr(7), presented_set = true;

  const bool down = mode == "down-closed" || mode == "down-open";
  const bool open = mode == "down-open";
  LimiterOptions lo;
  lo.capacity = 64;
  lo.shards = 1;
  SwitchedLimiter limiter(std::make_unique<LocalLimiter>(policies.list, lo), down);
  GateOptions opt;
  opt.max_body_bytes = 1000;
  opt.trusted = {*CidrRange::parse("127.0.0.0/8").range, *CidrRange::parse("::1/128").range};
  opt.cors_origins = {"https://app.example"};
  opt.fail_open = open;
  opt.policies = policies.ids;
  const Gate gate(opt, limiter, keys);

  // Twice, so that a budget can be spent by the first.
  for (int round = 0; round < 2; ++round) {
    const GateVerdict v = gate.check(req, 0);
    FUZZ_CHECK(known_status(v.status));
    if (v.refused()) {
      FUZZ_CHECK(v.next == GateNext::Refuse || v.next == GateNext::RefuseAfterBody ||
                 v.next == GateNext::RefuseClose);
      FUZZ_CHECK(!v.detail.empty() || (v.status == 204 && method == "OPTIONS"));
      if (v.next == GateNext::Refuse) FUZZ_CHECK(!req.has_body());
      if (v.status == 401) FUZZ_CHECK(has_header(v, "WWW-Authenticate"));
      if (v.status == 429 || v.status == 503) FUZZ_CHECK(has_header(v, "Retry-After"));
      if (v.status == 405) FUZZ_CHECK(has_header(v, "Allow"));
      if (v.status == 503) FUZZ_CHECK(down && !open);
      if (v.status == 429) FUZZ_CHECK(!down);
    } else {
      FUZZ_CHECK(v.next == GateNext::Handle || v.next == GateNext::ReadBody ||
                 v.next == GateNext::ReadTooLarge);
      FUZZ_CHECK(v.ctx.route != nullptr);
      FUZZ_CHECK(method != "OPTIONS");
      const auto [route, method_ok] = find_route(method == "HEAD" ? "GET" : method, path);
      FUZZ_CHECK(route == v.ctx.route);
      FUZZ_CHECK((v.next == GateNext::ReadBody) == (route->has_body && v.next != GateNext::ReadTooLarge));
      if (route->scope != 0 && v.next != GateNext::ReadTooLarge) {
        FUZZ_CHECK(v.ctx.key != nullptr);
        FUZZ_CHECK((v.ctx.key->scopes & route->scope) == route->scope);
      }
    }
    if (v.ctx.key) FUZZ_CHECK(presented_set && v.ctx.key == keys.authenticate(presented, 0));
  }
  return 0;
}
