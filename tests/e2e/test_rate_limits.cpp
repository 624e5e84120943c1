// Rate limits over real HTTP: headers on every limited route, and state that
// survives a restart.
#include <doctest/doctest.h>

#include <thread>

#include "harness.hpp"

using namespace e2e;

namespace {
int retry_after(const httplib::Result& r) { return std::stoi(r->get_header_value("Retry-After")); }
}  // namespace

TEST_CASE("every limited response carries RateLimit-Policy and RateLimit") {
  ServerProc s;
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 202);
  CHECK(r->get_header_value("RateLimit-Policy").find("\"free\";q=5;w=60") != std::string::npos);
  CHECK(r->get_header_value("RateLimit").find("\"free\";r=4;t=12") != std::string::npos);
  r = c.Get("/jobs", {{"X-API-Key", key}});
  REQUIRE(r);
  CHECK(r->has_header("RateLimit"));
  CHECK(r->get_header_value("RateLimit-Policy").find("free.poll") != std::string::npos);
}

TEST_CASE("an exhausted key stays limited across a restart, then refills") {
  ServerProc s({"--tier", "six=6/min"});
  std::string key = s.create_key("alice", {"--tier", "six"});
  {
    auto c = s.client();
    for (int i = 0; i < 6; ++i) {
      auto r = post_predict(c, key);
      REQUIRE(r);
      REQUIRE(r->status == 202);
    }
    auto r = post_predict(c, key);
    REQUIRE(r);
    REQUIRE(r->status == 429);
  }
  s.restart();
  auto c = s.client();
  auto r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 429);
  int wait = retry_after(r);
  CHECK(wait >= 1);
  CHECK(wait <= 10);
  CHECK(r->get_header_value("RateLimit").find("r=0;t=" + std::to_string(wait)) != std::string::npos);
  // Retry-After is never early: waiting exactly that long is enough.
  std::this_thread::sleep_for(std::chrono::seconds(wait));
  r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 202);
}

TEST_CASE("the per-address limit applies before the key check") {
  ServerProc s({"--limit-ip", "3/min"});
  auto c = s.client();
  for (int i = 0; i < 3; ++i) {
    auto r = post_predict(c, "mlg_not-a-real-key");
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  auto r = post_predict(c, "mlg_not-a-real-key");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->has_header("Retry-After"));
}

TEST_CASE("requests through a trusted proxy are limited by the forwarded address") {
  ServerProc s({"--limit-ip", "2/min", "--trusted-proxy", "127.0.0.1/32"});
  auto c = s.client();
  for (int i = 0; i < 2; ++i) {
    auto r = c.Get("/", {{"X-Forwarded-For", "203.0.113.7"}});
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  auto r = c.Get("/", {{"X-Forwarded-For", "203.0.113.7"}});
  REQUIRE(r);
  CHECK(r->status == 429);
  r = c.Get("/", {{"X-Forwarded-For", "203.0.113.8"}});
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("X-Forwarded-For from a peer that is not a trusted proxy is ignored") {
  ServerProc s({"--limit-ip", "2/min", "--trusted-proxy", "10.0.0.0/8"});
  auto c = s.client();
  for (int i = 0; i < 2; ++i) {
    auto r = c.Get("/", {{"X-Forwarded-For", "203.0.113." + std::to_string(i)}});
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  auto r = c.Get("/", {{"X-Forwarded-For", "203.0.113.99"}});
  REQUIRE(r);
  CHECK(r->status == 429);
}

TEST_CASE("GET /health is never refused by the per-address limit") {
  ServerProc s({"--limit-ip", "1/min"});
  auto c = s.client();
  for (int i = 0; i < 5; ++i) {
    auto r = c.Get("/health");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
}

TEST_CASE("GET /metrics counts each policy's decisions") {
  ServerProc s({"--tier", "two=2/min"});
  std::string key = s.create_key("ops", {"--tier", "two", "--scopes", "predict,metrics"});
  auto c = s.client();
  for (int expected : {202, 202, 429}) {
    auto r = post_predict(c, key);
    REQUIRE(r);
    CHECK(r->status == expected);
  }
  auto r = c.Get("/metrics", {{"X-API-Key", key}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->body.find("# TYPE mlgate_ratelimit_decisions_total counter") != std::string::npos);
  CHECK(r->body.find("mlgate_ratelimit_decisions_total{policy=\"two\",result=\"allowed\"} 2\n") !=
        std::string::npos);
  CHECK(r->body.find("mlgate_ratelimit_decisions_total{policy=\"two\",result=\"refused\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("the 429 of a spent failed-key budget lists that budget in its RateLimit headers") {
  ServerProc s({"--limit-auth-fail", "3/min"});
  auto c = s.client();
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/jobs", {{"X-API-Key", "mlg_wrong"}});
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  // The fourth is refused by that budget before its key is looked at: the
  // headers name it next to "ip", and its t is the Retry-After.
  auto r = c.Get("/jobs", {{"X-API-Key", "mlg_wrong"}});
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(r->get_header_value("RateLimit-Policy") == "\"ip\";q=50;w=1, \"auth_fail\";q=3;w=60");
  std::string state = r->get_header_value("RateLimit");
  CHECK(state.rfind("\"ip\";r=", 0) == 0);
  CHECK(state.find(", \"auth_fail\";r=0;t=" + std::to_string(retry_after(r))) != std::string::npos);
}
