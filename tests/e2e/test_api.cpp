// The HTTP API of DESIGN.md against the real binary: the original service's
// own manual tests, then the contract's fixes to it.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace e2e;

TEST_CASE("health and root answer without a key") {
  ServerProc s;
  auto c = s.client();
  auto r = c.Get("/health");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["status"] == "healthy");
  r = c.Get("/");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body).contains("version"));
}

TEST_CASE("a missing key is a 401 with WWW-Authenticate, not a 422") {
  ServerProc s;
  auto c = s.client();
  auto r = post_predict(c, "");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->has_header("WWW-Authenticate"));
  CHECK(json::parse(r->body) == json{{"detail", "Invalid or missing API Key"}});
}

TEST_CASE("a valid key gets 202, a Location, and a job that completes with a real label") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = post_predict(c, key, "The movie was great and the actors were wonderful!");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  auto job = json::parse(r->body);
  std::string id = job["job_uuid"];
  CHECK(r->get_header_value("Location") == "/jobs/" + id);
  CHECK(job["status"] == "pending");
  auto done = wait_finished(c, key, id);
  CHECK(done["status"] == "completed");
  CHECK(done["result_label"] == "positive");
  CHECK(done["result_score"].get<double>() > 0.5);
  CHECK(done["result"].contains("compound"));

  r = post_predict(c, key, "This was a terrible, awful experience. I hate it.");
  REQUIRE(r);
  auto bad = wait_finished(c, key, json::parse(r->body)["job_uuid"]);
  CHECK(bad["result_label"] == "negative");
}

TEST_CASE("Bearer authorization works like X-API-Key, in any header case") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = c.Post("/predict", {{"authorization", "Bearer " + key}},
                  R"({"text":"Bearer tokens are fine too"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 202);
  r = c.Post("/predict", {{"x-api-key", key}}, R"({"text":"Lower-case header name works"})",
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 202);
}

TEST_CASE("the sixth POST in a minute with a free key is 429 with Retry-After") {
  ServerProc s;
  std::string key = s.create_key("free-user");
  auto c = s.client();
  for (int i = 0; i < 5; ++i) {
    auto r = post_predict(c, key);
    REQUIRE(r);
    CHECK(r->status == 202);
  }
  auto r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 429);
  int retry = std::stoi(r->get_header_value("Retry-After"));
  CHECK(retry >= 1);
  CHECK(retry <= 12);
  CHECK(json::parse(r->body)["detail"] ==
        "Rate limit exceeded. Try again in " + std::to_string(retry) + " seconds.");
  CHECK(r->get_header_value("RateLimit-Policy").find("\"free\";q=5;w=60") != std::string::npos);
}

TEST_CASE("validation errors are 422 in FastAPI's shape") {
  ServerProc s({"--tier", "test=100/s"});
  std::string key = s.create_key("alice", {"--tier", "test"});
  auto c = s.client();
  auto r = post_predict(c, key, "short");
  REQUIRE(r);
  CHECK(r->status == 422);
  auto d = json::parse(r->body)["detail"];
  REQUIRE(d.is_array());
  CHECK(d[0]["loc"] == json{"body", "text"});
  CHECK(d[0].contains("msg"));
  CHECK(d[0].contains("type"));

  for (const std::string body : {"{not json", R"(["a list"])", R"({"text": 12345678901})",
                                 R"({"txt": "the field is misspelled"})",
                                 R"({"text":"abcdefghij\u0000kl"})"}) {
    CAPTURE(body);
    r = c.Post("/predict", {{"X-API-Key", key}}, body, "application/json");
    REQUIRE(r);
    CHECK(r->status == 422);
  }
}

TEST_CASE("unknown fields are ignored") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = c.Post("/predict", {{"X-API-Key", key}},
                  R"({"text":"Extra fields do not matter here","model":"x","n":1})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 202);
}

TEST_CASE("a wrong content type is 415 and a 2 MB body is 413") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = c.Post("/predict", {{"X-API-Key", key}}, "text=hello there", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(json::parse(r->body).contains("detail"));
  std::string big = json{{"text", std::string(2 << 20, 'a')}}.dump();
  r = c.Post("/predict", {{"X-API-Key", key}}, big, "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(json::parse(r->body).contains("detail"));
}

TEST_CASE("an unknown job id is 404 and another owner's job is 404 too") {
  ServerProc s;
  std::string alice = s.create_key("alice");
  std::string bob = s.create_key("bob");
  auto c = s.client();
  auto r = c.Get("/jobs/00000000-0000-4000-8000-000000000000", {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body) == json{{"detail", "Job not found"}});
  r = post_predict(c, alice);
  REQUIRE(r);
  std::string id = json::parse(r->body)["job_uuid"];
  r = c.Get("/jobs/" + id, {{"X-API-Key", bob}});
  REQUIRE(r);
  CHECK(r->status == 404);
  r = c.Delete("/jobs/" + id, {{"X-API-Key", bob}});
  REQUIRE(r);
  CHECK(r->status == 404);
  r = c.Get("/jobs", {{"X-API-Key", bob}});
  REQUIRE(r);
  CHECK(json::parse(r->body)["jobs"].empty());
  r = c.Get("/jobs/" + id, {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("a key in the query string is ignored") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = c.Post("/predict?api_key=" + key + "&X-API-Key=" + key,
                  R"({"text":"The key travels in the wrong place"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("a key revoked from the command line is refused within a second") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 202);
  auto list = run_cli({"keys", "list", "--json", "--data-dir", s.dir()});
  REQUIRE(list.status == 0);
  std::string id = json::parse(list.out)[0]["id"];
  REQUIRE(run_cli({"keys", "revoke", id, "--data-dir", s.dir()}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // The same keep-alive client (connection) is refused on its next request.
  r = c.Get("/jobs", {{"X-API-Key", key}});
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("a restart keeps every job") {
  ServerProc s;
  std::string key = s.create_key("alice");
  std::vector<std::string> ids;
  {
    auto c = s.client();
    for (int i = 0; i < 5; ++i) {
      auto r = post_predict(c, key, "Job number " + std::to_string(i) + " is a good one");
      REQUIRE(r);
      REQUIRE(r->status == 202);
      ids.push_back(json::parse(r->body)["job_uuid"]);
    }
  }
  s.restart();
  auto c = s.client();
  for (auto& id : ids) {
    auto j = wait_finished(c, key, id);
    CHECK(j["status"] == "completed");
  }
}

TEST_CASE("unknown routes are 404 and wrong methods 405, with a detail body") {
  ServerProc s;
  auto c = s.client();
  auto r = c.Get("/nope");
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body).contains("detail"));
  r = c.Put("/predict", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status >= 400);
  r = c.Get("/predict");
  REQUIRE(r);
  CHECK(r->status == 405);
}

TEST_CASE("openapi.json describes every route") {
  ServerProc s;
  auto c = s.client();
  auto r = c.Get("/openapi.json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto doc = json::parse(r->body);
  CHECK(doc["openapi"] == "3.0.3");
  CHECK(doc["paths"].contains("/predict"));
  CHECK(doc["paths"].contains("/jobs/{job_uuid}"));
}

TEST_CASE("startup fails with one line and status 1 when the port is taken") {
  ServerProc s;
  auto r = run_cli({"serve", "--port", std::to_string(s.port()), "--data-dir", s.dir() + "-2"});
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot listen") != std::string::npos);
}

TEST_CASE("startup fails when the data directory cannot be created or written") {
  TempDir t;
  // A path below a regular file can be neither created nor written, even by
  // root (who ignores directory permission bits).
  std::string file = (t.path / "file").string();
  std::ofstream(file) << "x";
  auto r = run_cli({"serve", "--port", "0", "--data-dir", file + "/data"});
  CHECK(r.status == 1);
  CHECK(r.err.find("data directory") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  if (geteuid() != 0) {
    std::string ro = (t.path / "ro").string();
    std::filesystem::create_directory(ro);
    std::filesystem::permissions(ro, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_exec);
    r = run_cli({"serve", "--port", "0", "--data-dir", ro});
    CHECK(r.status == 1);
  }
}

TEST_CASE("usage errors exit 2 with one line") {
  auto r = run_cli({"serve", "--no-such-flag"});
  CHECK(r.status == 2);
  CHECK(r.err.find("unknown option") != std::string::npos);
  r = run_cli({"serve", "--limit-ip", "5/week"});
  CHECK(r.status != 0);
  r = run_cli({"frobnicate"});
  CHECK(r.status == 2);
}
