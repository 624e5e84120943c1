// openapi.cpp: the OpenAPI 3.0 document of the route table (routes.hpp).
// Everything route-specific (statuses and why, body schemas, parameters,
// response headers, scopes) comes from the table and route_answers(); this
// file only holds the shared schemas and turns the table into the document.
// /docs is rendered from this document, so both always agree.
#include <string>

#include "job_status.hpp"
#include "key_store.hpp"
#include "routes.hpp"

namespace mlgate {
namespace {

using json = nlohmann::json;

json status_names() {
  json names = json::array();
  for (JobStatus st : kJobStatuses) names.push_back(to_string(st));
  return names;
}

json ref(std::string_view kind, std::string_view name) {
  return {{"$ref", "#/components/" + std::string(kind) + "/" + std::string(name)}};
}

json schemas() {
  auto nullable = [](json s) {
    s["nullable"] = true;
    return s;
  };
  json time = {{"type", "string"}, {"format", "date-time"}};
  json job = {
      {"type", "object"},
      {"required", {"job_uuid", "status", "result_label", "result_score", "result", "error",
                    "attempts", "created_at", "started_at", "finished_at"}},
      {"properties",
       {{"job_uuid", {{"type", "string"}, {"description", "UUIDv7 (RFC 9562)"}}},
        {"status",
         {{"type", "string"}, {"enum", status_names()}}},
        {"result_label", nullable({{"type", "string"},
                                   {"description", "sentiment: positive, negative or neutral"}})},
        {"result_score", nullable({{"type", "number"},
                                   {"description", "sentiment: the compound score in [-1, 1]"}})},
        {"result", nullable({{"type", "object"},
                             {"additionalProperties", true},
                             {"description", "The model's detail; sentiment: neg, neu, pos, compound"}})},
        {"error", nullable({{"type", "string"}, {"description", "Why the last attempt failed"}})},
        {"attempts", {{"type", "integer"}, {"minimum", 0}}},
        {"created_at", time},
        {"started_at", nullable(time)},
        {"finished_at", nullable(time)}}}};
  return {
      {"Error",
       {{"type", "object"},
        {"required", {"detail"}},
        {"properties", {{"detail", {{"type", "string"}}}}}}},
      {"ValidationErrorItem",
       {{"type", "object"},
        {"required", {"loc", "msg", "type"}},
        {"properties",
         {{"loc", {{"type", "array"},
                   {"items", {{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}}}}}},
          {"msg", {{"type", "string"}}},
          {"type", {{"type", "string"}}}}}}},
      {"ValidationError",
       {{"type", "object"},
        {"description", "FastAPI's validation error shape"},
        {"required", {"detail"}},
        {"properties",
         {{"detail", {{"type", "array"}, {"items", ref("schemas", "ValidationErrorItem")}}}}}}},
      {"Job", job},
      {"JobList",
       {{"type", "object"},
        {"required", {"jobs", "next_cursor"}},
        {"properties",
         {{"jobs", {{"type", "array"}, {"items", ref("schemas", "Job")}}},
          {"next_cursor", nullable({{"type", "string"},
                                    {"description", "Pass as ?cursor= for the next page; null on the last"}})}}}}},
      {"PredictRequest",
       {{"type", "object"},
        {"required", {"text"}},
        {"additionalProperties", true},
        {"description", "Unknown fields are ignored"},
        {"properties",
         {{"text",
           {{"type", "string"},
            {"minLength", 10},
            {"maxLength", 5000},
            {"description", "10 to 5000 Unicode code points, at least 10 of them not whitespace, "
                            "at least one letter or digit, no NUL"}}}}}}},
      {"Root",
       {{"type", "object"},
        {"required", {"message", "version", "model"}},
        {"properties",
         {{"message", {{"type", "string"}}}, {"version", {{"type", "string"}}}, {"model", {{"type", "string"}}}}}}},
      {"Health",
       {{"type", "object"},
        {"required", {"status", "version", "database", "workers", "draining", "limiter", "unfinished_jobs"}},
        {"properties",
         {{"status", {{"type", "string"}, {"enum", {"healthy", "unhealthy"}}}},
          {"version", {{"type", "string"}}},
          {"database", {{"type", "string"}, {"enum", {"ok", "failing"}}}},
          {"workers", {{"type", "string"}, {"enum", {"ok", "stuck"}}}},
          {"draining", {{"type", "boolean"}}},
          {"limiter",
           {{"type", "string"},
            {"description", "the limiter deciding now: local, redis, or, with --redis while Redis is "
                            "unavailable, the --redis-fail fallback"}}},
          {"unfinished_jobs", {{"type", "integer"}, {"minimum", 0}}}}}}},
  };
}

json headers() {
  auto h = [](const char* description, json schema) {
    return json{{"description", description}, {"schema", std::move(schema)}};
  };
  json str = {{"type", "string"}};
  return {
      {"X-Request-Id", h("This request's id, as in the server's log line", str)},
      {"RateLimit", h("Remaining quota of each checked policy (IETF httpapi ratelimit-headers "
                      "draft), e.g. \"ip\";r=99;t=1, \"free\";r=4;t=12",
                      str)},
      {"RateLimit-Policy", h("Each checked policy's quota and window in seconds, e.g. "
                             "\"ip\";q=50;w=1, \"free\";q=5;w=60",
                             str)},
      {"Retry-After", h("Seconds to wait before retrying", {{"type", "integer"}, {"minimum", 0}})},
      {"Location", h("The job's URL, /jobs/{job_uuid}", str)},
      {"Preference-Applied", h("wait=N when the answer waited for the job", str)},
      {"WWW-Authenticate", h("The accepted key schemes", str)},
  };
}

json response(const Route& r, const RouteAnswer& a) {
  json out = {{"description", a.why}};
  json hs = {{"X-Request-Id", ref("headers", "X-Request-Id")}};
  // Framing refusals, and a busy server's 503, come before any limit is
  // checked; a 503 of the handler's own comes after.
  bool handler_503 = false;
  for (const Answer& own : r.answers) handler_503 = handler_503 || own.status == 503;
  bool before_limits = a.status == 400 || a.status == 408 || a.status == 411 || a.status == 414 ||
                       a.status == 415 || a.status == 431 ||
                       (a.status == 503 && !handler_503);
  if ((r.ip_limited || r.key_limit != KeyLimit::None) && !before_limits) {
    hs["RateLimit"] = ref("headers", "RateLimit");
    hs["RateLimit-Policy"] = ref("headers", "RateLimit-Policy");
  }
  if (a.headers & kHdrRetryAfter) hs["Retry-After"] = ref("headers", "Retry-After");
  if (a.headers & kHdrLocation) hs["Location"] = ref("headers", "Location");
  if (a.headers & kHdrPreferenceApplied) hs["Preference-Applied"] = ref("headers", "Preference-Applied");
  if (a.headers & kHdrWwwAuthenticate) hs["WWW-Authenticate"] = ref("headers", "WWW-Authenticate");
  out["headers"] = hs;
  std::string_view media = r.media_type;
  if (a.status < 300 && media != "application/json") {
    out["content"] = {{r.media_type, {{"schema", {{"type", "string"}}}}}};
  } else if (a.schemas.size() == 1) {
    out["content"] = {{"application/json", {{"schema", ref("schemas", a.schemas[0])}}}};
  } else if (!a.schemas.empty()) {
    json one_of = json::array();
    for (const char* s : a.schemas) one_of.push_back(ref("schemas", s));
    out["content"] = {{"application/json", {{"schema", {{"oneOf", one_of}}}}}};
  } else {
    out["content"] = {{"application/json", {{"schema", {{"type", "object"}}}}}};
  }
  return out;
}

json operation(const Route& r) {
  json op = {{"operationId", r.operation_id}, {"summary", r.summary}};
  std::string description;
  if (r.scope) {
    op["security"] = json::array({{{"ApiKeyHeader", json::array()}}, {{"Bearer", json::array()}}});
    op["x-required-scope"] = format_scopes(r.scope);
    description = "Needs a key with the \"" + format_scopes(r.scope) + "\" scope.";
    if (r.key_limit == KeyLimit::Tier) description += " Limited per key by its tier's rate.";
    if (r.key_limit == KeyLimit::Poll) description += " Limited per key by its poll rate.";
  } else {
    op["security"] = json::array();  // public: no key
    description = "Public: no key.";
  }
  description += r.ip_limited ? " Counts against the per-address limit."
                              : " Never limited (for orchestrators' probes).";
  op["description"] = description;
  json params = json::array();
  if (std::string_view(r.path).find("{job_uuid}") != std::string_view::npos)
    params.push_back({{"name", "job_uuid"},
                      {"in", "path"},
                      {"required", true},
                      {"description", "The job's id, as in its job_uuid"},
                      {"schema", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}}});
  for (const Param& p : r.params)
    params.push_back({{"name", p.name},
                      {"in", p.in},
                      {"required", false},
                      {"description", p.description},
                      {"schema", json::parse(p.schema_json)}});
  if (!params.empty()) op["parameters"] = params;
  if (r.has_body)
    op["requestBody"] = {
        {"required", true},
        {"content", {{"application/json", {{"schema", ref("schemas", "PredictRequest")}}}}}};
  json responses = json::object();
  for (const RouteAnswer& a : route_answers(r)) responses[std::to_string(a.status)] = response(r, a);
  op["responses"] = responses;
  return op;
}

}  // namespace

nlohmann::json openapi_document(const char* version) {
  json paths = json::object();
  for (const Route& r : routes()) {
    std::string method = r.method;
    for (auto& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    paths[r.path][method] = operation(r);
  }
  return {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "mlgate"},
        {"version", version},
        {"description",
         "A machine-learning model behind an asynchronous job API: POST /predict stores a job "
         "and answers 202 once it is on disk; poll GET /jobs/{job_uuid}, or send "
         "Prefer: wait=N to get the finished job in the same answer. Every error body is "
         "{\"detail\": \"...\"}; validation errors use FastAPI's shape."}}},
      // Relative: the document is served by the server it describes, under
      // whatever name the client reached it by.
      {"servers", json::array({{{"url", "/"}, {"description", "The server that serves this document"}}})},
      {"paths", paths},
      {"components",
       {{"securitySchemes",
         {{"ApiKeyHeader", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
          {"Bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
        {"schemas", schemas()},
        {"headers", headers()}}}};
}

}  // namespace mlgate
