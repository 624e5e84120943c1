#include "routes.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>

#include "key_store.hpp"

namespace mlgate {
namespace {

constexpr const char* kJson = "application/json";

// What each handler itself answers (server.cpp's h_* functions). A status
// added to a handler must be added here: the end-to-end suite compares
// every answer it sees with the OpenAPI document built from these lists.
constexpr Answer kRootAnswers[] = {{200, "Service name, version and model", "Root"}};
constexpr Answer kHealthAnswers[] = {
    {200, "Healthy: the database is writable and no worker is stuck", "Health"},
    {503, "Unhealthy: the database is not writable, a worker is stuck, or the server is "
          "shutting down", "Health"}};
constexpr Answer kPredictAnswers[] = {
    {200, "The finished job (Prefer: wait=N, finished in time), or the job an earlier "
          "request with the same Idempotency-Key and body created", "Job",
     kHdrLocation | kHdrPreferenceApplied},
    {202, "Accepted: the job is on disk and queued", "Job", kHdrLocation},
    {422, "Invalid JSON or text, a malformed Idempotency-Key, or an Idempotency-Key "
          "reused with another body", "ValidationError"},
    {503, "The job queue is full, the server is shutting down, or storage is failing",
     "Error", kHdrRetryAfter}};
constexpr Answer kGetJobAnswers[] = {
    {200, "The job", "Job"},
    {404, "No such job for this key's owner", "Error"},
    {503, "Storage is failing", "Error", kHdrRetryAfter}};
constexpr Answer kListJobsAnswers[] = {
    {200, "One page of the caller's jobs, newest first", "JobList"},
    {422, "Unknown status, limit outside 1-100, or a malformed cursor", "ValidationError"},
    {503, "Storage is failing", "Error", kHdrRetryAfter}};
constexpr Answer kCancelJobAnswers[] = {
    {200, "The job, now canceled", "Job"},
    {404, "No such job for this key's owner", "Error"},
    {409, "The job had already finished", "Error"},
    {503, "Storage is failing", "Error", kHdrRetryAfter}};
constexpr Answer kMetricsAnswers[] = {{200, "Prometheus text format 0.0.4", nullptr}};
constexpr Answer kOpenApiAnswers[] = {{200, "This document", nullptr}};
constexpr Answer kDocsAnswers[] = {{200, "A self-contained HTML page", nullptr}};

constexpr Param kPredictParams[] = {
    {"Idempotency-Key", "header",
     "Makes a retry safe: a second POST with the same key and body answers 200 with the job "
     "the first created; with another body, 422. Kept per owner as long as the job is.",
     R"({"type": "string", "minLength": 1, "maxLength": 255})"},
    {"Prefer", "header",
     "wait=N (RFC 7240): hold the answer up to N seconds (at most 30) and answer 200 with "
     "the finished job if it finishes in time, else 202 as usual.",
     R"({"type": "string", "example": "wait=5"})"},
};
constexpr Param kListJobsParams[] = {
    {"status", "query", "Only jobs with this status.",
     R"({"type": "string", "enum": ["pending", "running", "completed", "failed", "canceled"]})"},
    {"limit", "query", "Jobs per page.",
     R"({"type": "integer", "minimum": 1, "maximum": 100, "default": 20})"},
    {"cursor", "query", "The next_cursor of the previous page.", R"({"type": "string"})"},
};

constexpr Route kRoutes[] = {
    {RouteId::Root, "GET", "/", 0, KeyLimit::None, false, true, "getRoot",
     "Service name and version", kJson, kRootAnswers, {}},
    {RouteId::Health, "GET", "/health", 0, KeyLimit::None, false, false, "getHealth",
     "Liveness and readiness: database writable, workers not stuck", kJson, kHealthAnswers, {}},
    {RouteId::Predict, "POST", "/predict", kScopePredict, KeyLimit::Tier, true, true,
     "createJob", "Queue a job for the model; 202 with the job once it is on disk", kJson,
     kPredictAnswers, kPredictParams},
    {RouteId::ListJobs, "GET", "/jobs", kScopeRead, KeyLimit::Poll, false, true, "listJobs",
     "The caller's jobs, newest first", kJson, kListJobsAnswers, kListJobsParams},
    {RouteId::GetJob, "GET", "/jobs/{job_uuid}", kScopeRead, KeyLimit::Poll, false, true,
     "getJob", "One of the caller's jobs", kJson, kGetJobAnswers, {}},
    {RouteId::CancelJob, "DELETE", "/jobs/{job_uuid}", kScopePredict, KeyLimit::Poll, false, true,
     "cancelJob", "Cancel a pending or running job", kJson, kCancelJobAnswers, {}},
    {RouteId::Metrics, "GET", "/metrics", kScopeMetrics, KeyLimit::None, false, true,
     "getMetrics", "Prometheus metrics", "text/plain; version=0.0.4", kMetricsAnswers, {}},
    {RouteId::OpenApi, "GET", "/openapi.json", 0, KeyLimit::None, false, true, "getOpenApi",
     "This OpenAPI document", kJson, kOpenApiAnswers, {}},
    {RouteId::Docs, "GET", "/docs", 0, KeyLimit::None, false, true, "getDocs",
     "This API as an HTML page, with a form to try a call", "text/html; charset=utf-8",
     kDocsAnswers, {}},
};
static_assert(std::size(kRoutes) == kRouteCount);

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

std::vector<RouteAnswer> route_answers(const Route& r) {
  // The checks of server.cpp's pre_route(), in their order, for a route of
  // this kind. Descriptions say what a client can do about each.
  const bool keyed = r.scope != 0;
  std::vector<Answer> generic = {
      {400, "Malformed request: a header name that is not a token, more than one or a "
            "malformed Content-Length, or a body on a method that takes none", "Error"},
      {411, r.has_body ? "Content-Length missing, or Transfer-Encoding sent"
                       : "Transfer-Encoding sent (this method takes no body)", "Error"},
      {415, r.has_body ? "Content-Type is not application/json, or Content-Encoding sent"
                       : "Content-Encoding sent", "Error"},
      {408, "The request's head (--head-timeout) or body (--body-timeout) took too long to arrive",
       "Error"},
      {414, "Request line longer than the head cap (--max-head-bytes)", "Error"},
      {431, "Request head over --max-head-bytes, or more than 100 header lines", "Error"},
      {500, "Internal error", "Error"},
      {503, "Server busy: every connection taken, or this address's share of them; or the shared "
            "rate limiter unavailable with --redis-fail closed", "Error", kHdrRetryAfter},
  };
  if (r.has_body) generic.push_back({413, "Body over the size cap (--max-body)", "Error"});
  if (r.ip_limited || keyed)
    generic.push_back({429,
                       keyed ? "Rate limit exceeded: per address, per key, or too many "
                               "invalid keys from this address"
                             : "Rate limit exceeded (per address)",
                       "Error", kHdrRetryAfter});
  if (keyed) {
    generic.push_back({401, "Invalid or missing API key", "Error", kHdrWwwAuthenticate});
    generic.push_back({403, "The key lacks the route's scope", "Error"});
  }
  std::vector<RouteAnswer> all;
  auto add = [&](const Answer& a) {
    auto same = std::find_if(all.begin(), all.end(),
                             [&](const RouteAnswer& x) { return x.status == a.status; });
    if (same == all.end()) {
      all.push_back({a.status, a.why, {}, a.headers});
      if (a.schema) all.back().schemas.push_back(a.schema);
      return;
    }
    same->why += std::string("; or ") + a.why;
    same->headers = static_cast<uint8_t>(same->headers | a.headers);
    if (a.schema && std::find_if(same->schemas.begin(), same->schemas.end(), [&](const char* s) {
          return std::string_view(s) == a.schema;
        }) == same->schemas.end())
      same->schemas.push_back(a.schema);
  };
  for (const Answer& a : r.answers) add(a);
  for (const Answer& g : generic) add(g);
  std::sort(all.begin(), all.end(),
            [](const RouteAnswer& a, const RouteAnswer& b) { return a.status < b.status; });
  return all;
}

std::pair<const Route*, bool> find_route(std::string_view method, std::string_view path) {
  bool path_known = false;
  for (const Route& r : kRoutes) {
    if (!path_matches(r.path, path)) continue;
    if (method == r.method) return {&r, true};
    path_known = true;
  }
  return {nullptr, !path_known};
}

std::string allowed_methods(std::string_view path) {
  std::string out;
  for (const Route& r : kRoutes) {
    if (!path_matches(r.path, path)) continue;
    if (!out.empty()) out += ", ";
    out += r.method;
    if (std::string_view(r.method) == "GET") out += ", HEAD";
  }
  return out;
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

}  // namespace mlgate
