// security.hpp: the gate: every check a request passes before a handler
// sees it (DESIGN.md, "Request pipeline"), on a small view of the request
// that holds no HTTP library type, so the chain can be unit-tested and
// fuzzed without sockets.
//
// What the caller may rely on:
// - Order, cheapest first, each refusal final: framing (Transfer-Encoding
//   411, Content-Encoding 415, Content-Length missing on POST 411, repeated
//   or malformed 400, a body on a method without one 400, over the cap 413
//   (or drained by the library and answered 413 when small enough), a POST
//   whose Content-Type is not JSON 415); the client address (the peer, or
//   behind a trusted proxy the forwarded client); OPTIONS preflight (204
//   for an allowed origin, else 404); the route (404, or 405 with Allow);
//   then one limiter call for every limit the route needs: per-address 429,
//   spent failed-key budget 429, bad or missing key 401 (the budget
//   charged), missing scope 403, the key's own limit 429.
// - A limiter that cannot decide answers 503 with Retry-After: 1, unless
//   the operator chose fail-open (then the key and scope are still checked).
// - Every refusal has a status and a non-empty detail (the text of the
//   {"detail": ...} body), except the preflight's 204, which has no body.
// - The verdict carries the request's context (client, route, key, the
//   RateLimit header values) for the handler and the access log; the gate
//   keeps no per-request state and may be called from any thread.
// - A refused request never reaches a handler: `next` says whether the
//   library reads the body first (the refusal then stands, and the
//   connection stays usable) or the connection closes with the body unread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client_address.hpp"
#include "cors.hpp"
#include "limiter.hpp"
#include "routes.hpp"

namespace mlgate {

struct Config;
struct KeyRecord;

// Where the gate finds keys. KeyCache (key_store.hpp) is the one
// implementation; tests and fuzz targets may bring their own.
class KeySource {
 public:
  virtual ~KeySource() = default;
  // The record of an active key, or nullptr for a missing, malformed,
  // unknown, revoked or expired one. Thread-safe.
  virtual std::shared_ptr<const KeyRecord> authenticate(std::string_view presented,
                                                        int64_t now_ms) = 0;
};

// What the gate reads of a request. Views into the caller's request, valid
// for the call only. Header fields hold the first value of that header;
// nullopt (or false) when it is absent.
struct RequestView {
  std::string_view method;  // "GET", "POST", ...
  std::string_view path;    // without the query string
  std::string_view peer;    // the socket peer's address
  bool transfer_encoding = false;
  bool content_encoding = false;
  size_t content_length_count = 0;  // Content-Length fields in the head
  std::string_view content_length;  // the first one's value
  std::string_view content_type;
  std::string_view expect;
  std::optional<std::string_view> api_key;  // X-API-Key
  std::string_view authorization;
  std::optional<std::string_view> origin;
  std::vector<std::string_view> forwarded_for;  // every X-Forwarded-For field, in order

  bool expects_continue() const;
  // The request may carry body bytes that were not read: a POST, or any
  // declared body.
  bool has_body() const;
};

// The rate policies the gate uses, by their place in the limiter's list.
struct GatePolicyIds {
  PolicyId ip = 0, auth_fail = 0;
  std::unordered_map<std::string, std::pair<PolicyId, PolicyId>> tiers;  // predict, poll
  std::string default_tier = "free";  // keys of an unconfigured tier are limited as this
};

struct GatePolicies {
  std::vector<RatePolicy> list;  // for the limiter, in PolicyId order
  GatePolicyIds ids;
};

// The configured limits (--limit-ip, --limit-auth-fail, --tier, --limit-poll).
// Throws StartupError / ConfigError (server.hpp) on a value that does not
// parse or a missing "free" tier.
GatePolicies gate_policies(const Config& cfg);

struct GateOptions {
  size_t max_body_bytes = 64 * 1024;
  std::vector<CidrRange> trusted;  // proxies whose X-Forwarded-For is believed
  int ipv6_prefix = 64;
  std::vector<std::string> cors_origins;
  bool fail_open = false;  // a limiter that cannot decide lets requests on
  GatePolicyIds policies;
};

// Throws StartupError (server.hpp) for a --trusted-proxy that does not parse.
GateOptions gate_options(const Config& cfg, GatePolicyIds policies);

// What happens next to the request.
enum class GateNext : uint8_t {
  Handle,           // passed, no body: the route's handler answers now
  ReadBody,         // passed: the library reads the body, then the handler answers
  ReadTooLarge,     // passed on: the library reads and discards a body over the cap and answers 413
  Refuse,           // answer the refusal now; nothing unread, the connection stays usable
  RefuseAfterBody,  // the library reads and discards the (sound) body; the refusal stands
  RefuseClose,      // answer the refusal and close: the body is not read
};

// What the checks learned about a request, for the handler and the log.
struct RequestContext {
  const Route* route = nullptr;
  std::shared_ptr<const KeyRecord> key;  // set once the key passed its limits
  std::string client;                    // resolved address (empty: refused before)
  std::string rl_policy, rl_state;       // RateLimit-Policy / RateLimit values
};

// What a refusal counts toward in the metrics.
enum class GateEvent : uint8_t { None, RateLimited, AuthFailed };

struct GateVerdict {
  GateNext next = GateNext::Handle;
  int status = 0;      // refused (or preflight): the status; 0 when passed
  std::string detail;  // refused: the detail text (empty only for the 204 preflight)
  HeaderList headers;  // refused: headers to set besides X-Request-Id and RateLimit*
  RequestContext ctx;
  GateEvent event = GateEvent::None;

  bool refused() const { return status != 0; }
};

class Gate {
 public:
  Gate(GateOptions options, Limiter& limiter, KeySource& keys);

  // `now_ms`: wall time, for key expiry.
  GateVerdict check(const RequestView& req, int64_t now_ms) const;

  const GateOptions& options() const { return opt_; }

 private:
  bool check_framing(const RequestView& req, GateVerdict& v, bool& oversized,
                     bool& body_len_ok) const;
  std::string client_of(const RequestView& req) const;
  bool check_access(const RequestView& req, GateVerdict& v, bool oversized, int64_t now_ms) const;
  PolicyId key_policy(const KeyRecord& key, KeyLimit which) const;

  GateOptions opt_;
  Limiter& limiter_;
  KeySource& keys_;
};

}  // namespace mlgate
