// security.cpp: see security.hpp.
#include "security.hpp"

#include <algorithm>
#include <array>

#include "ascii.hpp"
#include "config.hpp"
#include "key_store.hpp"
#include "server.hpp"

namespace mlgate {
namespace {

std::optional<size_t> parse_content_length(std::string_view v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  return n;
}

std::string_view presented_key(const RequestView& req) {
  if (req.api_key) return *req.api_key;
  constexpr std::string_view kBearer = "Bearer ";
  const auto auth = req.authorization;
  if (auth.size() > kBearer.size() && ascii_iequals(auth.substr(0, kBearer.size()), kBearer))
    return auth.substr(kBearer.size());
  return {};
}

void refuse(GateVerdict& v, int status, std::string detail) {
  v.status = status;
  v.detail = std::move(detail);
}

}  // namespace

// The client waits for 100 Continue before it sends the body (RFC 9110
// 10.1.1). The connection stream sends that line only once the body is
// read, that is once the gate let the request through; a refusal goes out
// instead, and the connection then closes, since the client may or may not
// send the body after a refusal.
bool RequestView::expects_continue() const { return ascii_iequals(expect, "100-continue"); }

bool RequestView::has_body() const {
  if (method == "POST" || transfer_encoding) return true;
  return !content_length.empty() && content_length != "0";
}

GatePolicies gate_policies(const Config& cfg) {
  GatePolicies out;
  auto add = [&](const std::string& rate, const std::string& name) {
    auto p = parse_rate(rate, name);
    if (!p) throw StartupError(p.error);
    out.list.push_back(*p.policy);
    return static_cast<PolicyId>(out.list.size() - 1);
  };
  out.ids.ip = add(cfg.limit_ip, "ip");
  out.ids.auth_fail = add(cfg.limit_auth_fail, "auth_fail");
  auto poll_rate = parse_rate(cfg.limit_poll, "poll");
  if (!poll_rate) throw ConfigError(poll_rate.error);
  const RatePolicy poll = *poll_rate.policy;
  if (cfg.tiers.find(out.ids.default_tier) == cfg.tiers.end())
    throw StartupError("the tier \"free\" must stay defined (keys of unknown tiers use it)");
  for (auto& [name, rate] : cfg.tiers) {
    if (!valid_policy_name(name)) throw StartupError("--tier " + name + ": invalid tier name");
    PolicyId predict = add(rate, name);
    // Polling is never held tighter than submitting: a tier may always read
    // its jobs at least as fast as it may create them.
    const bool tier_faster = out.list[predict].emission_ns() < poll.emission_ns();
    PolicyId pollid = add(tier_faster ? rate : cfg.limit_poll, name + ".poll");
    out.ids.tiers[name] = {predict, pollid};
  }
  return out;
}

GateOptions gate_options(const Config& cfg, GatePolicyIds policies) {
  GateOptions o;
  o.max_body_bytes = cfg.max_body_bytes;
  for (auto& cidr : cfg.trusted_proxies) {
    auto c = CidrRange::parse(cidr);
    if (!c) throw StartupError("--trusted-proxy " + cidr + ": " + c.error);
    o.trusted.push_back(*c.range);
  }
  o.ipv6_prefix = cfg.ipv6_prefix;
  o.cors_origins = cfg.cors_origins;
  o.fail_open = cfg.redis_fail == "open";
  o.policies = std::move(policies);
  return o;
}

Gate::Gate(GateOptions options, Limiter& limiter, KeySource& keys)
    : opt_(std::move(options)), limiter_(limiter), keys_(keys) {}

GateVerdict Gate::check(const RequestView& req, int64_t now_ms) const {
  GateVerdict v;
  bool oversized = false, body_len_ok = false;
  // A refused request's unread body must never be parsed as the next
  // request (smuggling). A POST to a body route whose framing is sound and
  // within the cap is drained instead: the library reads the body and the
  // refusal stands, so the connection stays open (a client with a wrong
  // key costs no reconnect). Anything else that may carry a body is
  // answered and closed.
  auto refused = [&]() -> GateVerdict {
    if (!req.has_body()) {
      v.next = GateNext::Refuse;
      return std::move(v);
    }
    // The route is known unless the refusal came before its lookup.
    const Route* r = v.ctx.route ? v.ctx.route : find_route(req.method, req.path).first;
    v.next = body_len_ok && r && r->has_body && !req.expects_continue() ? GateNext::RefuseAfterBody
                                                                        : GateNext::RefuseClose;
    return std::move(v);  // not a copy: the caller returns it at once
  };
  if (!check_framing(req, v, oversized, body_len_ok)) return refused();
  v.ctx.client = client_of(req);
  if (req.method == "OPTIONS") {
    if (add_cors_headers(opt_.cors_origins, req.origin, true, v.headers)) v.status = 204;
    else refuse(v, 404, "Not Found");
    return refused();
  }
  // HEAD is GET without the body (the library leaves the body out).
  auto [route, method_ok] = find_route(req.method == "HEAD" ? "GET" : req.method, req.path);
  if (!route) {
    refuse(v, method_ok ? 404 : 405, method_ok ? "Not Found" : "Method Not Allowed");
    if (!method_ok) v.headers.emplace_back("Allow", allowed_methods(req.path));
    return refused();
  }
  v.ctx.route = route;
  if (!check_access(req, v, oversized, now_ms)) return refused();
  // A body over the cap but small enough to drain: the library reads and
  // discards it and answers 413, and the connection stays usable.
  if (oversized) v.next = GateNext::ReadTooLarge;
  else v.next = route->has_body ? GateNext::ReadBody : GateNext::Handle;
  return v;
}

// The socket peer, or for a trusted proxy the forwarded client; never a
// header the client could set itself (REMOTE_ADDR, CVE-2025-66570).
std::string Gate::client_of(const RequestView& req) const {
  std::string xff;
  if (!opt_.trusted.empty()) {
    for (size_t k = 0; k < req.forwarded_for.size(); ++k) {
      if (k) xff += ',';
      xff += req.forwarded_for[k];
    }
  }
  auto addr = resolve_client(req.peer, xff, opt_.trusted);
  return addr ? limiter_key(*addr, opt_.ipv6_prefix) : std::string(req.peer);
}

// Bodies the library would mishandle are refused before it reads them:
// chunked or length-less bodies ignore the size cap (CVE-2025-46728), gzip
// bodies inflate past it (CVE-2026-22776), and a body on a GET would be
// parsed as the next request. The head's size, header count and syntax
// were checked while it was read (request_head.hpp).
bool Gate::check_framing(const RequestView& req, GateVerdict& v, bool& oversized,
                         bool& body_len_ok) const {
  if (req.transfer_encoding) {
    refuse(v, 411, "Transfer-Encoding is not accepted; send Content-Length");
    return false;
  }
  if (req.content_encoding) {
    refuse(v, 415, "Content-Encoding is not accepted");
    return false;
  }
  const bool post = req.method == "POST";
  if (req.content_length_count == 0) {
    if (post) {
      refuse(v, 411, "Content-Length required");
      return false;
    }
    return true;
  }
  if (req.content_length_count != 1) {
    refuse(v, 400, "More than one Content-Length");
    return false;
  }
  auto len = parse_content_length(req.content_length);
  if (!len) {
    refuse(v, 400, "Malformed Content-Length");
    return false;
  }
  if (!post && *len > 0) {
    refuse(v, 400, "This method takes no request body");
    return false;
  }
  // Up to this much is drained so that an ordinary client that sent too
  // much reads a 413 rather than a reset; beyond it, or when the client
  // waits for 100 Continue, the connection is closed without reading.
  const size_t drain_max = std::max<size_t>(4u << 20, 4 * opt_.max_body_bytes);
  if (post && *len > opt_.max_body_bytes && *len <= drain_max && !req.expects_continue()) {
    oversized = true;
    return true;
  }
  if (*len > opt_.max_body_bytes) {
    refuse(v, 413, "Request body too large (limit " + std::to_string(opt_.max_body_bytes) +
                       " bytes)");
    return false;
  }
  body_len_ok = true;
  if (post) {
    auto mime = req.content_type.substr(0, req.content_type.find(';'));
    while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
    if (!ascii_iequals(mime, "application/json")) {
      refuse(v, 415, "Content-Type must be application/json");
      return false;
    }
  }
  return true;
}

// The per-address limit, the key, its scope and the key's limit. Every
// limit the request needs is decided in one limiter call, so that a shared
// limiter answers a request in one round trip; the limiter evaluates the
// checks in order and stops at the first refusal, which keeps the order of
// answers: per-address 429, spent failed-key budget 429, bad key 401 (the
// budget charged), missing scope 403, key limit 429. A request with a body
// over the cap (`oversized`, answered 413 by the library) is not keyed.
bool Gate::check_access(const RequestView& req, GateVerdict& v, bool oversized,
                        int64_t now_ms) const {
  const Route& route = *v.ctx.route;
  const std::string& client = v.ctx.client;
  const GatePolicyIds& ids = opt_.policies;
  std::array<LimitCheck, LimitResult::kMaxChecks> checks;
  size_t n = 0;
  if (route.ip_limited) checks[n++] = {ids.ip, client, LimitMode::Charge};
  const bool keyed = route.scope != 0 && !oversized;
  if (!keyed && n == 0) return true;
  std::shared_ptr<const KeyRecord> key;
  bool scope_ok = false;
  const size_t auth_at = n;
  if (keyed) {
    key = keys_.authenticate(presented_key(req), now_ms);
    // A good key only needs the address's failed-key budget not to be
    // spent; a bad one spends one from it.
    checks[n++] = {ids.auth_fail, client, key ? LimitMode::Peek : LimitMode::Charge};
    scope_ok = key && (key->scopes & route.scope) == route.scope;
    if (scope_ok && route.key_limit != KeyLimit::None)
      checks[n++] = {key_policy(*key, route.key_limit), key->id, LimitMode::Charge};
  }
  const LimitResult r = limiter_.decide({checks.data(), n});
  // The shared limiter cannot decide: --redis-fail closed refuses, open
  // lets the request on (the key and its scope are still checked).
  if (!r.available && !opt_.fail_open) {
    v.headers.emplace_back("Retry-After", "1");
    refuse(v, 503, "Rate limiter unavailable; try again later");
    return false;
  }
  auto append = [](std::string& s, const std::string& item) {
    if (!s.empty()) s += ", ";
    s += item;
  };
  for (size_t i = 0; i < r.decided; ++i) {
    // The failed-key budget is listed only when it refused the request.
    if (keyed && i == auth_at && r.decisions[i].allowed) continue;
    const RatePolicy& p = limiter_.policy(checks[i].policy);
    append(v.ctx.rl_policy, ratelimit_policy_item(p));
    append(v.ctx.rl_state, ratelimit_item(p, r.decisions[i]));
  }
  if (r.refused()) {
    const Decision& d = r.decisions[r.decided - 1];
    v.event = GateEvent::RateLimited;
    v.headers.emplace_back("Retry-After", std::to_string(d.retry_after_s));
    refuse(v, 429, rate_limited_message(d.retry_after_s));
    return false;
  }
  if (!keyed) return true;
  if (!key) {
    v.event = GateEvent::AuthFailed;
    v.headers.emplace_back("WWW-Authenticate", "ApiKey header=\"X-API-Key\", Bearer");
    refuse(v, 401, "Invalid or missing API Key");
    return false;
  }
  v.ctx.key = key;
  if (!scope_ok) {
    refuse(v, 403, "This API key lacks the \"" + format_scopes(route.scope) + "\" scope");
    return false;
  }
  return true;
}

// A key of a tier that is not configured is limited as the default tier.
PolicyId Gate::key_policy(const KeyRecord& key, KeyLimit which) const {
  const auto& tiers = opt_.policies.tiers;
  auto it = tiers.find(key.tier);
  if (it == tiers.end()) it = tiers.find(opt_.policies.default_tier);
  return which == KeyLimit::Tier ? it->second.first : it->second.second;
}

}  // namespace mlgate
