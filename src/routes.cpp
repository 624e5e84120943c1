#include "routes.hpp"

#include <charconv>

#include "key_store.hpp"

namespace mlgate {
namespace {

constexpr Route kRoutes[] = {
    {RouteId::Root, "GET", "/", 0, KeyLimit::None, false, true, "Service name and version"},
    {RouteId::Health, "GET", "/health", 0, KeyLimit::None, false, false,
     "Liveness and readiness: database writable, workers not stuck"},
    {RouteId::Predict, "POST", "/predict", kScopePredict, KeyLimit::Tier, true, true,
     "Queue a job for the model; 202 with the job once it is on disk"},
    {RouteId::ListJobs, "GET", "/jobs", kScopeRead, KeyLimit::Poll, false, true,
     "The caller's jobs, newest first"},
    {RouteId::GetJob, "GET", "/jobs/{job_uuid}", kScopeRead, KeyLimit::Poll, false, true,
     "One of the caller's jobs"},
    {RouteId::CancelJob, "DELETE", "/jobs/{job_uuid}", kScopePredict, KeyLimit::Poll, false, true,
     "Cancel a pending or running job"},
    {RouteId::Metrics, "GET", "/metrics", kScopeMetrics, KeyLimit::None, false, true,
     "Prometheus metrics"},
    {RouteId::OpenApi, "GET", "/openapi.json", 0, KeyLimit::None, false, true,
     "This document"},
};

bool path_matches(std::string_view tmpl, std::string_view path) {
  auto brace = tmpl.find('{');
  if (brace == std::string_view::npos) return tmpl == path;
  // One parameter, the last segment: non-empty, no '/', at most 64 bytes.
  if (path.substr(0, brace) != tmpl.substr(0, brace)) return false;
  std::string_view seg = path.substr(brace);
  return !seg.empty() && seg.size() <= 64 && seg.find('/') == std::string_view::npos;
}

}  // namespace

std::span<const Route> routes() { return kRoutes; }

std::pair<const Route*, bool> find_route(std::string_view method, std::string_view path) {
  bool path_known = false;
  for (const Route& r : kRoutes) {
    if (!path_matches(r.path, path)) continue;
    if (method == r.method) return {&r, true};
    path_known = true;
  }
  return {nullptr, !path_known};
}

std::string path_param(std::string_view path) {
  return std::string(path.substr(path.rfind('/') + 1));
}

int parse_prefer_wait(std::string_view prefer, int max_s) {
  // Prefer: respond-async, wait=10   (RFC 7240; tokens separated by , or ;)
  size_t pos = 0;
  while ((pos = prefer.find("wait=", pos)) != std::string_view::npos) {
    bool at_token_start = pos == 0 || prefer[pos - 1] == ' ' || prefer[pos - 1] == ',' ||
                          prefer[pos - 1] == ';';
    pos += 5;
    if (!at_token_start) continue;
    int v = 0;
    auto r = std::from_chars(prefer.data() + pos, prefer.data() + prefer.size(), v);
    if (r.ec != std::errc() || v < 0) return 0;
    // The number must end the token: "wait=5x" or "wait=5.5" is malformed.
    if (r.ptr != prefer.data() + prefer.size() && *r.ptr != ',' && *r.ptr != ';' &&
        *r.ptr != ' ' && *r.ptr != '\t')
      return 0;
    return v > max_s ? max_s : v;
  }
  return 0;
}

nlohmann::json openapi_document(const char* version) {
  using json = nlohmann::json;
  json job = {{"type", "object"},
              {"properties",
               {{"job_uuid", {{"type", "string"}}},
                {"status", {{"type", "string"},
                            {"enum", {"pending", "running", "completed", "failed", "canceled"}}}},
                {"result_label", {{"type", "string"}, {"nullable", true}}},
                {"result_score", {{"type", "number"}, {"nullable", true}}},
                {"result", {{"type", "object"}, {"nullable", true}}},
                {"error", {{"type", "string"}, {"nullable", true}}},
                {"attempts", {{"type", "integer"}}},
                {"created_at", {{"type", "string"}, {"format", "date-time"}}},
                {"started_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}},
                {"finished_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}}}}};
  json paths = json::object();
  for (const Route& r : kRoutes) {
    std::string method = r.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(ch));
    json op = {{"summary", r.summary}, {"responses", json::object()}};
    if (r.scope) {
      op["security"] = json::array({{{"ApiKeyHeader", json::array()}}, {{"Bearer", json::array()}}});
      op["x-required-scope"] = format_scopes(r.scope);
      op["responses"]["401"] = {{"description", "Invalid or missing API Key"}};
      op["responses"]["429"] = {{"description", "Rate limit exceeded"}};
    }
    if (std::string_view(r.path).find('{') != std::string_view::npos)
      op["parameters"] = json::array(
          {{{"name", "job_uuid"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
    if (r.has_body) {
      op["requestBody"] = {
          {"required", true},
          {"content",
           {{"application/json",
             {{"schema",
               {{"type", "object"},
                {"required", {"text"}},
                {"properties", {{"text", {{"type", "string"}, {"minLength", 10}, {"maxLength", 5000}}}}}}}}}}}};
      op["responses"]["202"] = {{"description", "Accepted: the job is on disk"},
                                {"content", {{"application/json", {{"schema", job}}}}}};
      op["responses"]["422"] = {{"description", "Validation error"}};
    } else {
      op["responses"]["200"] = {{"description", "OK"}};
    }
    paths[r.path][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "mlgate"}, {"version", version}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes",
             {{"ApiKeyHeader", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
              {"Bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

}  // namespace mlgate
