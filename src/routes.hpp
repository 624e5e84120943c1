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

#include <nlohmann/json.hpp>

namespace mlgate {

enum class RouteId { Root, Health, Predict, GetJob, ListJobs, CancelJob, Metrics, OpenApi };
enum class KeyLimit { None, Tier, Poll };  // Tier: the key tier's rate; Poll: its poll rate

struct Route {
  RouteId id;
  const char* method;
  const char* path;     // OpenAPI form; "{job_uuid}" matches one path segment
  uint32_t scope;       // Scope bits a key needs; 0: public, no key
  KeyLimit key_limit;
  bool has_body;        // POST with a JSON body, read by the library
  bool ip_limited;      // counts against the per-address limit
  const char* summary;
};

std::span<const Route> routes();

// The route for (method, path), else {nullptr, false} when the path exists
// under another method only (405) and {nullptr, true} when it does not (404).
std::pair<const Route*, bool> find_route(std::string_view method, std::string_view path);

// The last path segment ("/jobs/abc" -> "abc").
std::string path_param(std::string_view path);

// "wait=5" in a Prefer header -> 5 (capped at max_s); 0 when absent or malformed.
int parse_prefer_wait(std::string_view prefer, int max_s);

nlohmann::json openapi_document(const char* version);

}  // namespace mlgate
