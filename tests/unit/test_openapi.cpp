// Unit tests for openapi.cpp and route_answers(): the document a client
// generator reads, built from the route table.
#include <doctest/doctest.h>

#include <set>

#include "key_store.hpp"
#include "routes.hpp"

using namespace mlgate;
using json = nlohmann::json;

namespace {

const json& op_of(const json& doc, const Route& r) {
  std::string m = r.method;
  for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return doc["paths"][r.path][m];
}

std::set<int> statuses(const json& doc, RouteId id) {
  for (const Route& r : routes())
    if (r.id == id) {
      std::set<int> s;
      for (const auto& [k, _] : op_of(doc, r)["responses"].items()) s.insert(std::stoi(k));
      return s;
    }
  return {};
}

bool includes(const std::set<int>& have, std::initializer_list<int> want) {
  for (int w : want)
    if (!have.count(w)) return false;
  return true;
}

// Every "$ref" in `j` names something under #/components.
void check_refs(const json& doc, const json& j) {
  if (j.is_object()) {
    if (j.contains("$ref")) {
      std::string ref = j["$ref"];
      REQUIRE(ref.rfind("#/components/", 0) == 0);
      std::string rest = ref.substr(13);
      auto slash = rest.find('/');
      CHECK_MESSAGE(doc["components"][rest.substr(0, slash)].contains(rest.substr(slash + 1)), ref);
    }
    for (const auto& [_, v] : j.items()) check_refs(doc, v);
  } else if (j.is_array()) {
    for (const auto& v : j) check_refs(doc, v);
  }
}

}  // namespace

TEST_CASE("each route has one unique operationId, a summary, and security: [] when public") {
  auto doc = openapi_document("1.0");
  std::set<std::string> ids;
  for (const Route& r : routes()) {
    const json& op = op_of(doc, r);
    CAPTURE(r.path);
    REQUIRE(op.is_object());
    CHECK(ids.insert(op["operationId"].get<std::string>()).second);
    CHECK(!op["summary"].get<std::string>().empty());
    if (r.scope) {
      CHECK(op["security"].size() == 2);
      CHECK(op["x-required-scope"] == format_scopes(r.scope));
    } else {
      CHECK(op["security"] == json::array());
    }
  }
  CHECK(ids.size() == kRouteCount);
  CHECK(doc["servers"] == json::array({{{"url", "/"}, {"description", "The server that serves this document"}}}));
  CHECK(doc["openapi"] == "3.0.3");
}

TEST_CASE("every status each route can answer is documented") {
  auto doc = openapi_document("1.0");
  CHECK(includes(statuses(doc, RouteId::Predict), {200, 202, 401, 403, 411, 413, 415, 422, 429, 503}));
  CHECK(includes(statuses(doc, RouteId::GetJob), {200, 401, 403, 404, 429}));
  CHECK(includes(statuses(doc, RouteId::CancelJob), {200, 401, 403, 404, 409, 429}));
  CHECK(includes(statuses(doc, RouteId::ListJobs), {200, 401, 403, 422, 429}));
  CHECK(includes(statuses(doc, RouteId::Metrics), {200, 401, 403, 429}));
  for (RouteId id : {RouteId::Root, RouteId::Health, RouteId::OpenApi, RouteId::Docs})
    CHECK(includes(statuses(doc, id), {200, 400, 411, 415, 431, 500, 503}));
}

TEST_CASE("no route documents a status it cannot answer") {
  auto doc = openapi_document("1.0");
  // The health probe is never limited and needs no key; public routes need no key.
  auto health = statuses(doc, RouteId::Health);
  CHECK_FALSE(health.count(429));
  CHECK_FALSE(health.count(401));
  CHECK_FALSE(statuses(doc, RouteId::Root).count(401));
  // No body, so no 413 and no 422 where nothing is validated.
  CHECK_FALSE(statuses(doc, RouteId::GetJob).count(413));
  CHECK_FALSE(statuses(doc, RouteId::GetJob).count(422));
  CHECK_FALSE(statuses(doc, RouteId::Metrics).count(404));
  CHECK_FALSE(statuses(doc, RouteId::Predict).count(404));
  CHECK_FALSE(statuses(doc, RouteId::Predict).count(409));
}

TEST_CASE("bodies, headers and parameters: the schemas a client generator needs") {
  auto doc = openapi_document("1.0");
  const json& post = doc["paths"]["/predict"]["post"];
  CHECK(post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/PredictRequest");
  CHECK(post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Job");
  CHECK(post["responses"]["202"]["headers"].contains("Location"));
  CHECK(post["responses"]["200"]["headers"].contains("Preference-Applied"));
  CHECK(post["responses"]["429"]["headers"].contains("Retry-After"));
  CHECK(post["responses"]["429"]["headers"].contains("RateLimit"));
  CHECK(post["responses"]["503"]["headers"].contains("Retry-After"));
  CHECK(post["responses"]["401"]["headers"].contains("WWW-Authenticate"));
  CHECK(post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"] ==
        "#/components/schemas/ValidationError");
  CHECK(post["responses"]["415"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error");
  std::set<std::string> names;
  for (const json& p : post["parameters"]) names.insert(p["name"].get<std::string>() + "@" + p["in"].get<std::string>());
  CHECK(names == std::set<std::string>{"Idempotency-Key@header", "Prefer@header"});

  const json& list = doc["paths"]["/jobs"]["get"];
  names.clear();
  for (const json& p : list["parameters"]) names.insert(p["name"].get<std::string>() + "@" + p["in"].get<std::string>());
  CHECK(names == std::set<std::string>{"status@query", "limit@query", "cursor@query"});
  CHECK(list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/JobList");
  CHECK(doc["paths"]["/jobs/{job_uuid}"]["get"]["parameters"][0]["name"] == "job_uuid");
  CHECK(doc["paths"]["/jobs/{job_uuid}"]["delete"]["parameters"][0]["in"] == "path");

  // /health's 503 is its own unhealthy body, or the busy server's error.
  const json& h503 = doc["paths"]["/health"]["get"]["responses"]["503"];
  CHECK(h503["content"]["application/json"]["schema"]["oneOf"].size() == 2);
  CHECK(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"].contains("text/plain; version=0.0.4"));
  CHECK(doc["paths"]["/docs"]["get"]["responses"]["200"]["content"].contains("text/html; charset=utf-8"));
  // Every answer carries X-Request-Id; framing refusals come before limits.
  CHECK(doc["paths"]["/"]["get"]["responses"]["200"]["headers"].contains("X-Request-Id"));
  CHECK(doc["paths"]["/"]["get"]["responses"]["200"]["headers"].contains("RateLimit"));
  CHECK_FALSE(doc["paths"]["/"]["get"]["responses"]["431"]["headers"].contains("RateLimit"));
  CHECK_FALSE(doc["paths"]["/health"]["get"]["responses"]["200"]["headers"].contains("RateLimit"));
  check_refs(doc, doc);
}

TEST_CASE("route_answers merges a handler's status with a check's of the same number") {
  for (const Route& r : routes()) {
    if (r.id != RouteId::Health) continue;
    for (const RouteAnswer& a : route_answers(r)) {
      if (a.status != 503) continue;
      CHECK(a.schemas.size() == 2);  // Health, then Error
      CHECK(std::string(a.schemas[0]) == "Health");
      CHECK(a.why.find("; or Server busy") != std::string::npos);
      CHECK((a.headers & kHdrRetryAfter) != 0);
    }
  }
}
