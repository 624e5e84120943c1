// routes.hpp: the route table. Each route names its method, path, the scope
// a key needs (none for public routes), which per-key limit applies, and
// whether it has a JSON body. The pre-routing checks, the router and the
// OpenAPI document all read this one table, so a route cannot be added
// without saying who may call it. GET /health alone is outside the
// per-address limit: an orchestrator's probe must not be refused because
// clients behind the same address are busy.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlgate {

enum class RouteId { Root, Health, Predict, GetJob, ListJobs, CancelJob, Metrics, OpenApi, Docs };
inline constexpr size_t kRouteCount = 9;  // RouteId values are 0 .. kRouteCount-1
enum class KeyLimit { None, Tier, Poll };  // Tier: the key tier's rate; Poll: its poll rate

// Response headers an answer may carry besides X-Request-Id (on every
// answer) and RateLimit/RateLimit-Policy (on every answer of a limited route).
enum AnswerHeader : uint8_t {
  kHdrLocation = 1,           // the job's URL
  kHdrPreferenceApplied = 2,  // Prefer: wait=N was honoured
  kHdrRetryAfter = 4,         // seconds before a retry can succeed
  kHdrWwwAuthenticate = 8,
};

// A status a route's handler may answer. The statuses every route of a
// kind shares (framing refusals, limits, keys) are added by route_answers().
struct Answer {
  int status;
  const char* why;     // one line, for the OpenAPI document and /docs
  const char* schema;  // components/schemas name of a JSON body, else nullptr
  uint8_t headers = 0; // AnswerHeader bits
};

// A query or header parameter the handler reads (the path parameter
// {job_uuid} is implied by the path).
struct Param {
  const char* name;
  const char* in;           // "query" or "header"
  const char* description;
  const char* schema_json;  // its JSON Schema, as JSON text
};

struct Route {
  RouteId id;
  const char* method;
  const char* path;     // OpenAPI form; "{job_uuid}" matches one path segment
  uint32_t scope;       // Scope bits a key needs; 0: public, no key
  KeyLimit key_limit;
  bool has_body;        // POST with a JSON body, read by the library
  bool ip_limited;      // counts against the per-address limit
  const char* operation_id;
  const char* summary;
  const char* media_type;  // of the success body
  std::span<const Answer> answers;  // the handler's own
  std::span<const Param> params;
};

std::span<const Route> routes();

// One status a route can answer, with every reason and body schema for it.
struct RouteAnswer {
  int status;
  std::string why;                   // reasons joined with "; or "
  std::vector<const char*> schemas;  // distinct, the handler's first; empty: not JSON
  uint8_t headers;                   // AnswerHeader bits of any reason
};

// Every status `r` can answer, ascending: its handler's answers merged with
// those of the checks before it (framing 400/411/413/415/431, per-address
// and per-key 429, key 401/403, busy 503, internal 500).
std::vector<RouteAnswer> route_answers(const Route& r);

// The route for (method, path), else {nullptr, false} when the path exists
// under another method only (405) and {nullptr, true} when it does not (404).
std::pair<const Route*, bool> find_route(std::string_view method, std::string_view path);

// The methods `path` is served with, for the Allow header of a 405
// ("GET, HEAD, DELETE"): HEAD wherever GET is; empty for an unknown path.
std::string allowed_methods(std::string_view path);

// The last path segment ("/jobs/abc" -> "abc").
std::string path_param(std::string_view path);

// "wait=5" in a Prefer header -> 5 (capped at max_s); 0 when absent or malformed.
int parse_prefer_wait(std::string_view prefer, int max_s);

// The OpenAPI 3 document of the route table (openapi.cpp).
nlohmann::json openapi_document(const char* version);

}  // namespace mlgate
