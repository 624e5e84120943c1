// Unit tests for routes.hpp: route lookup (404 vs 405), the path
// parameter and the Prefer: wait header.
#include <doctest/doctest.h>

#include <climits>
#include <string>

#include "routes.hpp"

using namespace mlgate;

namespace {

RouteId route_id(std::string_view method, std::string_view path) {
  auto [r, ok] = find_route(method, path);
  std::string what = std::string(method) + " " + std::string(path);
  REQUIRE_MESSAGE(r != nullptr, what);
  CHECK(ok);
  return r->id;
}

bool is_404(std::string_view method, std::string_view path) {
  auto [r, ok] = find_route(method, path);
  return r == nullptr && ok;
}

bool is_405(std::string_view method, std::string_view path) {
  auto [r, ok] = find_route(method, path);
  return r == nullptr && !ok;
}

}  // namespace

TEST_CASE("every route of the table is found by its own method and path") {
  for (const Route& r : routes()) {
    std::string path = r.path;
    if (auto b = path.find("{job_uuid}"); b != std::string::npos)
      path.replace(b, 10, "00000000-0000-4000-8000-000000000000");
    CAPTURE(path);
    auto [found, ok] = find_route(r.method, path);
    REQUIRE(found != nullptr);
    CHECK(found->id == r.id);
    CHECK(ok);
  }
}

TEST_CASE("the table's routes") {
  CHECK(route_id("GET", "/") == RouteId::Root);
  CHECK(route_id("GET", "/health") == RouteId::Health);
  CHECK(route_id("POST", "/predict") == RouteId::Predict);
  CHECK(route_id("GET", "/jobs") == RouteId::ListJobs);
  CHECK(route_id("GET", "/jobs/abc") == RouteId::GetJob);
  CHECK(route_id("DELETE", "/jobs/abc") == RouteId::CancelJob);
  CHECK(route_id("GET", "/metrics") == RouteId::Metrics);
  CHECK(route_id("GET", "/openapi.json") == RouteId::OpenApi);
  CHECK(route_id("GET", "/docs") == RouteId::Docs);
}

TEST_CASE("a known path under another method is 405") {
  CHECK(is_405("POST", "/health"));
  CHECK(is_405("GET", "/predict"));
  CHECK(is_405("PUT", "/predict"));
  CHECK(is_405("POST", "/jobs/abc"));
  CHECK(is_405("DELETE", "/jobs"));
  CHECK(is_405("HEAD", "/"));
  CHECK(is_405("get", "/health"));  // methods are case-sensitive (RFC 9110)
}

TEST_CASE("an unknown path is 404 whatever the method") {
  CHECK(is_404("GET", "/nope"));
  CHECK(is_404("POST", "/nope"));
  CHECK(is_404("GET", ""));
  CHECK(is_404("GET", "/health/"));
  CHECK(is_404("GET", "/HEALTH"));
  CHECK(is_404("GET", "/jobs/"));         // an empty parameter
  CHECK(is_404("GET", "/jobs/a/b"));      // the parameter is one segment
  CHECK(is_404("GET", "/jobsabc"));
  CHECK(is_404("GET", "//health"));
}

TEST_CASE("the job id parameter is at most 64 bytes") {
  CHECK(route_id("GET", "/jobs/" + std::string(64, 'a')) == RouteId::GetJob);
  CHECK(is_404("GET", "/jobs/" + std::string(65, 'a')));
}

TEST_CASE("path_param is the last segment") {
  CHECK(path_param("/jobs/abc") == "abc");
  CHECK(path_param("/jobs/00000000-0000-4000-8000-000000000000") ==
        "00000000-0000-4000-8000-000000000000");
  CHECK(path_param("/jobs/") == "");
}

TEST_CASE("Prefer: wait=N is read from its token, capped at the maximum") {
  CHECK(parse_prefer_wait("wait=5", 30) == 5);
  CHECK(parse_prefer_wait("respond-async, wait=10", 30) == 10);
  CHECK(parse_prefer_wait("handling=lenient; wait=3", 30) == 3);
  CHECK(parse_prefer_wait("wait=7, respond-async", 30) == 7);
  CHECK(parse_prefer_wait("nowait=1, wait=4", 30) == 4);
  CHECK(parse_prefer_wait("wait=100", 30) == 30);
  CHECK(parse_prefer_wait("wait=0", 30) == 0);
}

TEST_CASE("Prefer without a well-formed wait token means no wait") {
  for (const char* p : {"", "respond-async", "nowait=5", "wait=", "wait=abc", "wait=-1", "wait= 5",
                        "wait=99999999999999999999", "wait=5x", "wait=5.5"}) {
    CAPTURE(p);
    CHECK(parse_prefer_wait(p, 30) == 0);
  }
}

TEST_CASE("the OpenAPI document lists every route under its lower-case method") {
  auto doc = openapi_document("1.2.3");
  CHECK(doc["info"]["version"] == "1.2.3");
  for (const Route& r : routes()) {
    std::string m = r.method;
    for (auto& ch : m) ch = static_cast<char>(std::tolower(ch));
    CAPTURE(r.path);
    CHECK(doc["paths"][r.path].contains(m));
    if (r.scope) CHECK(doc["paths"][r.path][m].contains("security"));
  }
}

TEST_CASE("a 405's Allow lists every method of the path, HEAD wherever GET is") {
  CHECK(allowed_methods("/health") == "GET, HEAD");
  CHECK(allowed_methods("/predict") == "POST");
  CHECK(allowed_methods("/jobs") == "GET, HEAD");
  CHECK(allowed_methods("/jobs/0190c6f0-1111-7000-8000-000000000000") == "GET, HEAD, DELETE");
  CHECK(allowed_methods("/nowhere") == "");
  // Every path that find_route calls 405 has a non-empty Allow.
  for (const Route& r : routes()) {
    std::string path = r.path;
    if (auto b = path.find("{job_uuid}"); b != std::string::npos) path.replace(b, 10, "x");
    CAPTURE(path);
    CHECK(is_405("PUT", path));
    CHECK(!allowed_methods(path).empty());
  }
}
