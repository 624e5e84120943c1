// Unit tests for security.hpp: the gate on request views, without sockets,
// with the real embedded limiter (on a clock that does not move, so no
// budget refills mid-test) and real keys in a real SQLite file.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "db.hpp"
#include "key_store.hpp"
#include "sqlite_key_store.hpp"
#include "local_limiter.hpp"
#include "schema.hpp"
#include "security.hpp"
#include "temp_dir.hpp"
#if MLGATE_HAVE_HIREDIS
#include "failover_limiter.hpp"
#include "redis_limiter.hpp"
#include "redis_url.hpp"
#endif

using namespace mlgate;

namespace {

constexpr int64_t T0 = 1'800'000'000'000;  // wall time, ms

// A gate over a fresh database; `configure` adjusts the defaults first.
struct Fixture {
  testutil::TempDir dir{"mlgate-gate-"};
  std::string path = dir.file("mlgate.db");
  Db db;
  std::optional<SqliteKeyStore> keys;
  std::unique_ptr<Limiter> limiter;
  std::optional<Gate> gate;
  int64_t mono = 1'000'000'000;

  explicit Fixture(Config cfg = Config{}, std::unique_ptr<Limiter> lim = nullptr) {
    db = Db::open(path);
    migrate(db);
    keys.emplace(KeyStoreOptions{path, true, false});
    GatePolicies p = gate_policies(cfg);
    if (lim) {
      limiter = std::move(lim);
    } else {
      LimiterClock clock{[this] { return mono; }, [] { return T0 * 1'000'000; }};
      limiter = std::make_unique<LocalLimiter>(p.list, LimiterOptions{}, nullptr, clock);
    }
    gate.emplace(gate_options(cfg, std::move(p.ids)), *limiter, *keys);
  }

  std::string key(const std::string& name, uint32_t scopes = kDefaultScopes,
                  const std::string& tier = "free") {
    KeyCreateOptions o;
    o.name = name;
    o.scopes = scopes;
    o.tier = tier;
    return keys->create(o, T0).key;
  }

  GateVerdict check(const RequestView& v) { return gate->check(v, T0); }
};

// A sound request: GET without a body, or POST with a JSON body of 2 bytes.
RequestView req(std::string_view method, std::string_view path,
                std::optional<std::string_view> key = std::nullopt) {
  RequestView v;
  v.method = method;
  v.path = path;
  v.peer = "127.0.0.1";
  v.api_key = key;
  if (method == "POST") {
    v.content_length_count = 1;
    v.content_length = "2";
    v.content_type = "application/json";
  }
  return v;
}

std::string header(const GateVerdict& v, std::string_view name) {
  for (const auto& [n, value] : v.headers)
    if (name == n) return value;
  return "";
}

std::vector<std::string> header_names(const GateVerdict& v) {
  std::vector<std::string> out;
  for (const auto& h : v.headers) out.emplace_back(h.first);
  return out;
}

}  // namespace

TEST_CASE("a missing key is 401 with WWW-Authenticate; the handler is not reached") {
  Fixture f;
  GateVerdict v = f.check(req("GET", "/jobs"));
  CHECK(v.status == 401);
  CHECK(v.detail == "Invalid or missing API Key");
  CHECK(header(v, "WWW-Authenticate") == "ApiKey header=\"X-API-Key\", Bearer");
  CHECK(v.next == GateNext::Refuse);
  CHECK(v.event == GateEvent::AuthFailed);
  CHECK(v.ctx.key == nullptr);
  CHECK(v.ctx.client == "127.0.0.1");
  REQUIRE(v.ctx.route);
  CHECK(v.ctx.route->id == RouteId::ListJobs);
}

TEST_CASE("a good key passes with its RateLimit values; Bearer is read as well as X-API-Key") {
  Fixture f;
  const std::string k = f.key("alice");
  GateVerdict v = f.check(req("GET", "/jobs/abc", k));
  CHECK(v.status == 0);
  CHECK(v.next == GateNext::Handle);
  REQUIRE(v.ctx.key);
  CHECK(v.ctx.key->owner == "alice");
  // The per-address and the poll limit; the failed-key budget is listed
  // only when it refuses.
  CHECK(v.ctx.rl_policy.find("\"ip\"") != std::string::npos);
  CHECK(v.ctx.rl_policy.find("\"free.poll\"") != std::string::npos);
  CHECK(v.ctx.rl_policy.find("auth_fail") == std::string::npos);
  CHECK(v.ctx.rl_state.find("\"free.poll\";r=") != std::string::npos);

  RequestView bearer = req("GET", "/jobs/abc");
  const std::string auth = "bearer " + k;
  bearer.authorization = auth;
  CHECK(f.check(bearer).status == 0);
  const std::string basic = "Basic " + k;  // not a bearer token: no key
  bearer.authorization = basic;
  CHECK(f.check(bearer).status == 401);

  GateVerdict post = f.check(req("POST", "/predict", k));
  CHECK(post.status == 0);
  CHECK(post.next == GateNext::ReadBody);
}

TEST_CASE("bad keys spend the address's failed-key budget, then even a good key is 429") {
  Config cfg;
  cfg.limit_auth_fail = "3/min";
  Fixture f(cfg);
  const std::string good = f.key("alice");
  for (int i = 0; i < 3; ++i) {
    GateVerdict v = f.check(req("GET", "/jobs", "mlg_not-a-key"));
    CHECK(v.status == 401);
  }
  GateVerdict spent = f.check(req("GET", "/jobs", "mlg_not-a-key"));
  CHECK(spent.status == 429);
  CHECK(spent.event == GateEvent::RateLimited);
  CHECK(spent.detail.rfind("Rate limit exceeded. Try again in ", 0) == 0);
  CHECK(std::stoi(header(spent, "Retry-After")) > 0);
  CHECK(spent.ctx.rl_policy.find("\"auth_fail\"") != std::string::npos);
  // A good key from that address only peeks at the budget, and is refused.
  GateVerdict good_v = f.check(req("GET", "/jobs", good));
  CHECK(good_v.status == 429);
  CHECK(good_v.ctx.key == nullptr);  // refused before the key counts
  // Another address still has its budget.
  RequestView other = req("GET", "/jobs", good);
  other.peer = "192.0.2.9";
  CHECK(f.check(other).status == 0);
}

TEST_CASE("a key without the route's scope is 403, and a refused POST body is drained") {
  Fixture f;
  const std::string reader = f.key("reader", kScopeRead);
  GateVerdict v = f.check(req("POST", "/predict", reader));
  CHECK(v.status == 403);
  CHECK(v.detail == "This API key lacks the \"predict\" scope");
  CHECK(v.next == GateNext::RefuseAfterBody);
  REQUIRE(v.ctx.key);  // the log names the key
  CHECK(v.ctx.key->name == "reader");
  CHECK(f.check(req("GET", "/metrics", reader)).status == 403);
  // The same refusal when the client waits for 100 Continue: closed unread.
  RequestView cont = req("POST", "/predict", reader);
  cont.expect = "100-Continue";
  CHECK(f.check(cont).next == GateNext::RefuseClose);
}

TEST_CASE("the key's own limit: 429 with Retry-After and RateLimit values, per key") {
  Config cfg;
  cfg.tiers["free"] = "2/min";
  Fixture f(cfg);
  const std::string a = f.key("a"), b = f.key("b");
  for (int i = 0; i < 2; ++i) {
    GateVerdict ok = f.check(req("POST", "/predict", a));
    CHECK(ok.status == 0);
    CHECK(ok.ctx.rl_state.find("\"free\";r=" + std::to_string(1 - i)) != std::string::npos);
  }
  GateVerdict v = f.check(req("POST", "/predict", a));
  CHECK(v.status == 429);
  CHECK(v.event == GateEvent::RateLimited);
  CHECK(std::stoi(header(v, "Retry-After")) >= 1);
  CHECK(v.ctx.rl_policy.find("\"free\";q=2;w=60") != std::string::npos);
  CHECK(v.ctx.rl_state.find("\"free\";r=0") != std::string::npos);
  CHECK(v.next == GateNext::RefuseAfterBody);
  CHECK(f.check(req("POST", "/predict", b)).status == 0);  // b's budget is its own
}

TEST_CASE("the per-address limit refuses before the key is looked at; /health is outside it") {
  Config cfg;
  cfg.limit_ip = "3/min";
  cfg.limit_auth_fail = "1/min";
  Fixture f(cfg);
  for (int i = 0; i < 3; ++i) CHECK(f.check(req("GET", "/")).status == 0);
  GateVerdict v = f.check(req("GET", "/jobs", "mlg_wrong"));
  CHECK(v.status == 429);
  CHECK(v.ctx.rl_policy.find("\"ip\"") != std::string::npos);
  CHECK(f.check(req("GET", "/health")).status == 0);
  // The bad key refused by the address limit was never looked at: the
  // failed-key budget recorded no decision.
  auto stats = f.limiter->stats();
  auto fail = std::find_if(stats.policies.begin(), stats.policies.end(),
                           [](const PolicyCounters& c) { return c.name == "auth_fail"; });
  REQUIRE(fail != stats.policies.end());
  CHECK(fail->allowed + fail->refused == 0);
}

TEST_CASE("behind a trusted proxy the client is the forwarded address, and limits follow it") {
  Config cfg;
  cfg.limit_ip = "1/min";
  cfg.trusted_proxies = {"127.0.0.0/8"};
  Fixture f(cfg);
  RequestView a = req("GET", "/");
  a.forwarded_for = {"198.51.100.1, 203.0.113.7"};
  GateVerdict v = f.check(a);
  CHECK(v.status == 0);
  CHECK(v.ctx.client == "203.0.113.7");
  CHECK(f.check(a).status == 429);  // that client's budget is spent
  RequestView b = req("GET", "/");
  b.forwarded_for = {"203.0.113.8"};
  CHECK(f.check(b).ctx.client == "203.0.113.8");
  CHECK(f.check(b).status == 429);
  // Two X-Forwarded-For fields are one list, the last element nearest.
  RequestView two = req("GET", "/");
  two.forwarded_for = {"203.0.113.7", "203.0.113.9"};
  CHECK(f.check(two).ctx.client == "203.0.113.9");
  // An untrusted peer is the client, whatever it forwards.
  RequestView direct = req("GET", "/");
  direct.peer = "192.0.2.1";
  direct.forwarded_for = {"203.0.113.10"};
  CHECK(f.check(direct).ctx.client == "192.0.2.1");
  // IPv6 clients are limited per /64.
  RequestView v6 = req("GET", "/");
  v6.peer = "2001:db8:1:2:3:4:5:6";
  CHECK(f.check(v6).ctx.client == "2001:db8:1:2::/64");
}

TEST_CASE("framing refusals come first, with the contract's statuses, and say whether to close") {
  Config cfg;
  cfg.max_body_bytes = 1000;
  Fixture f(cfg);
  const std::string k = f.key("alice");
  struct Case {
    const char* what;
    RequestView v;
    int status;
    GateNext next;
  };
  auto post = [&] { return req("POST", "/predict", k); };
  std::vector<Case> cases;
  {
    RequestView v = post();
    v.transfer_encoding = true;
    cases.push_back({"Transfer-Encoding", v, 411, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_encoding = true;
    cases.push_back({"Content-Encoding", v, 415, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_length_count = 0;
    v.content_length = {};
    cases.push_back({"POST without Content-Length", v, 411, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_length_count = 2;
    cases.push_back({"two Content-Length", v, 400, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_length = "1e3";
    cases.push_back({"malformed Content-Length", v, 400, GateNext::RefuseClose});
  }
  {
    RequestView v = req("GET", "/jobs", k);
    v.content_length_count = 1;
    v.content_length = "5";
    cases.push_back({"a body on a GET", v, 400, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_length = "99999999";
    cases.push_back({"too large to drain", v, 413, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_length = "2000";
    v.expect = "100-continue";
    cases.push_back({"too large, client waits for 100 Continue", v, 413, GateNext::RefuseClose});
  }
  {
    RequestView v = post();
    v.content_type = "text/plain";
    cases.push_back({"not JSON", v, 415, GateNext::RefuseAfterBody});
  }
  for (auto& c : cases) {
    CAPTURE(c.what);
    GateVerdict v = f.check(c.v);
    CHECK(v.status == c.status);
    CHECK(v.next == c.next);
    CHECK_FALSE(v.detail.empty());
    CHECK(v.ctx.client.empty());  // refused before the client is resolved
    CHECK(v.ctx.route == nullptr);
    CHECK(v.ctx.rl_policy.empty());  // no limit was spent
  }
  GateVerdict big = f.check([&] {
    RequestView v = post();
    v.content_length = "2000";
    return v;
  }());
  CHECK(big.status == 0);
  CHECK(big.next == GateNext::ReadTooLarge);  // drained, answered 413 by the library
  CHECK(big.ctx.key == nullptr);              // and not keyed
  RequestView json_charset = post();
  json_charset.content_type = "Application/JSON ; charset=utf-8";
  CHECK(f.check(json_charset).status == 0);
}

TEST_CASE("unknown routes and methods, and CORS preflights") {
  Config cfg;
  cfg.cors_origins = {"https://app.example"};
  Fixture f(cfg);
  GateVerdict nf = f.check(req("GET", "/nope"));
  CHECK(nf.status == 404);
  CHECK(nf.detail == "Not Found");
  GateVerdict na = f.check(req("PUT", "/jobs/abc"));
  CHECK(na.status == 405);
  CHECK(na.detail == "Method Not Allowed");
  CHECK(header(na, "Allow") == "GET, HEAD, DELETE");
  CHECK(f.check(req("HEAD", "/health")).next == GateNext::Handle);

  RequestView pre = req("OPTIONS", "/predict");
  pre.origin = "https://app.example";
  GateVerdict ok = f.check(pre);
  CHECK(ok.status == 204);
  CHECK(ok.detail.empty());
  CHECK(header_names(ok) == std::vector<std::string>{"Access-Control-Allow-Origin", "Vary",
                                                     "Access-Control-Allow-Methods",
                                                     "Access-Control-Allow-Headers",
                                                     "Access-Control-Max-Age"});
  pre.origin = "https://evil.example";
  GateVerdict bad = f.check(pre);
  CHECK(bad.status == 404);
  CHECK(bad.headers.empty());
}

TEST_CASE("a limiter that cannot decide: 503, or with fail-open the key still decides" *
          doctest::skip(!MLGATE_HAVE_HIREDIS)) {
#if MLGATE_HAVE_HIREDIS
  // A real Redis limiter at a loopback port nobody listens on, known down
  // from the start: every decide() answers unavailable without waiting.
  auto down = [](Config& cfg, FailMode mode) {
    GatePolicies p = gate_policies(cfg);
    RedisLimiterOptions o;
    o.target = *parse_redis_url("redis://127.0.0.1:1").target;
    auto remote = std::make_unique<RedisLimiter>(p.list, o);
    FailoverOptions fo;
    fo.mode = mode;
    return std::make_unique<FailoverLimiter>(std::move(remote), nullptr, fo, false);
  };
  {
    Config cfg;
    cfg.redis_fail = "closed";
    Fixture f(cfg, down(cfg, FailMode::Closed));
    const std::string k = f.key("alice");
    GateVerdict v = f.check(req("GET", "/jobs", k));
    CHECK(v.status == 503);
    CHECK(v.detail == "Rate limiter unavailable; try again later");
    CHECK(header(v, "Retry-After") == "1");
    CHECK(v.ctx.key == nullptr);
    CHECK(f.check(req("GET", "/health")).status == 0);  // decides nothing
  }
  {
    Config cfg;
    cfg.redis_fail = "open";
    Fixture f(cfg, down(cfg, FailMode::Open));
    const std::string k = f.key("alice", kScopeRead);
    CHECK(f.check(req("GET", "/jobs", k)).status == 0);
    CHECK(f.check(req("GET", "/jobs", "mlg_wrong")).status == 401);
    CHECK(f.check(req("POST", "/predict", k)).status == 403);
  }
#endif
}
