// /openapi.json held against the live server: every route is driven to each
// status it can answer, each answer (and each response header it carries)
// must be documented for that route, every documented status must have been
// seen (bar the few no request can provoke on purpose), and every documented
// parameter is shown to do what the document says.
#include <doctest/doctest.h>

#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "harness.hpp"
#include "harness_sh.hpp"
#include "key_store.hpp"
#include "routes.hpp"

using namespace e2e;
using mlgate::Route;
using mlgate::RouteId;

namespace {

const Route& route(RouteId id) {
  for (const Route& r : mlgate::routes())
    if (r.id == id) return r;
  throw std::logic_error("no such route");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string fill(const Route& r, const std::string& job = "0190a5f0-0000-7000-8000-000000000000") {
  std::string p = r.path;
  if (auto b = p.find("{job_uuid}"); b != std::string::npos) p.replace(b, 10, job);
  return p;
}

// Status and headers of a raw HTTP answer.
std::pair<int, httplib::Headers> parse_raw(const std::string& raw) {
  httplib::Headers h;
  int status = 0;
  if (raw.rfind("HTTP/1.1 ", 0) == 0) status = std::atoi(raw.c_str() + 9);
  size_t pos = raw.find("\r\n");
  while (pos != std::string::npos) {
    size_t next = raw.find("\r\n", pos + 2);
    if (next == std::string::npos || next == pos + 2) break;  // end of head
    std::string line = raw.substr(pos + 2, next - pos - 2);
    if (auto colon = line.find(':'); colon != std::string::npos) {
      size_t v = line.find_first_not_of(' ', colon + 1);
      h.emplace(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
    }
    pos = next;
  }
  return {status, h};
}

// Which documented answers the test has seen, checked one by one.
struct Coverage {
  const json& doc;
  std::set<std::string> seen;  // "operationId status"

  const json& op(const Route& r) { return doc["paths"][r.path][lower(r.method)]; }

  void saw(const Route& r, int status, const httplib::Headers& headers) {
    std::string s = std::to_string(status);
    CAPTURE(r.operation_id);
    CAPTURE(status);
    const json& responses = op(r)["responses"];
    REQUIRE_MESSAGE(responses.contains(s), "the document lacks this answer");
    seen.insert(std::string(r.operation_id) + " " + s);
    CHECK(headers.count("X-Request-Id") == 1);
    for (const char* h : {"Location", "Retry-After", "RateLimit", "RateLimit-Policy",
                          "Preference-Applied", "WWW-Authenticate"})
      if (headers.count(h)) CHECK_MESSAGE(responses[s]["headers"].contains(h), h);
  }

  void saw(const Route& r, const httplib::Result& res, int expected) {
    REQUIRE(res);
    CHECK(res->status == expected);
    saw(r, res->status, res->headers);
  }

  void saw_raw(const Route& r, int port, const std::string& request, int expected) {
    auto [status, headers] = parse_raw(raw_exchange(port, request));
    CAPTURE(request.substr(0, 80));
    CHECK(status == expected);
    saw(r, status, headers);
  }
};

}  // namespace

TEST_CASE("the served /openapi.json is the route table's document, public, with servers") {
  ServerProc s;
  auto c = s.client();
  auto r = c.Get("/openapi.json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  auto doc = json::parse(r->body);
  CHECK(doc == mlgate::openapi_document(MLGATE_VERSION));
  CHECK(doc["servers"].size() == 1);
}

TEST_CASE("every route answers each documented status, and each answer is documented") {
  const json doc = mlgate::openapi_document(MLGATE_VERSION);
  Coverage cov{doc, {}};
  // One worker and a model that holds each job until the gate file exists:
  // the second job stays pending, to be canceled, until the test opens it.
  TempDir t;
  const std::string gate = (t.path / "gate").string();
  ServerProc s({"--model", "exec", "--exec", gated_model(gate), "--workers", "1", "--tier",
                "fast=1000/s", "--limit-poll", "1000/s", "--limit-ip", "1000/s"});
  auto c = s.client();
  std::string key = s.create_key("alice", {"--tier", "fast"});
  std::string free_key = s.create_key("bob");  // free: 5 POSTs a minute
  std::string reader = s.create_key("reader", {"--scopes", "read"});
  std::string no_read = s.create_key("writer", {"--scopes", "predict"});
  std::string metrics = s.create_key("scraper", {"--scopes", "metrics"});
  httplib::Headers k = {{"X-API-Key", key}};

  const Route& root = route(RouteId::Root);
  const Route& health = route(RouteId::Health);
  const Route& predict = route(RouteId::Predict);
  const Route& get_job = route(RouteId::GetJob);
  const Route& list = route(RouteId::ListJobs);
  const Route& cancel = route(RouteId::CancelJob);
  const Route& metrics_route = route(RouteId::Metrics);

  // Public routes.
  for (RouteId id : {RouteId::Root, RouteId::Health, RouteId::OpenApi, RouteId::Docs})
    cov.saw(route(id), c.Get(route(id).path), 200);

  // POST /predict: 202, then 200 for an Idempotency-Key replay and for a
  // Prefer: wait that the job meets.
  std::string body = R"({"text": "The staff were friendly and helpful"})";
  auto first = c.Post("/predict", {{"X-API-Key", key}, {"Idempotency-Key", "k1"}}, body,
                      "application/json");
  cov.saw(predict, first, 202);
  std::string running = json::parse(first->body)["job_uuid"];
  auto pending = c.Post("/predict", k, body, "application/json");
  cov.saw(predict, pending, 202);
  std::string queued = json::parse(pending->body)["job_uuid"];
  cov.saw(predict, c.Post("/predict", {{"X-API-Key", key}, {"Idempotency-Key", "k1"}}, body,
                          "application/json"), 200);
  // DELETE of the job still waiting behind the running one: 200 canceled.
  auto canceled = c.Delete("/jobs/" + queued, k);
  cov.saw(cancel, canceled, 200);
  CHECK(json::parse(canceled->body)["status"] == "canceled");
  std::ofstream(gate).flush();  // the running job may finish now
  auto waited = c.Post("/predict", {{"X-API-Key", key}, {"Prefer", "wait=10"}}, body, "application/json");
  cov.saw(predict, waited, 200);
  CHECK(json::parse(waited->body)["status"] == "completed");
  cov.saw(predict, c.Post("/predict", k, R"({"text": "short"})", "application/json"), 422);
  cov.saw(predict, c.Post("/predict", k, body, "text/plain"), 415);
  cov.saw(predict, c.Post("/predict", k, std::string(70 * 1024, 'x'), "application/json"), 413);
  cov.saw_raw(predict, s.port(),
              "POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key +
                  "\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
              411);
  for (int i = 0; i < 5; ++i) post_predict(c, free_key);
  cov.saw(predict, post_predict(c, free_key), 429);

  // The job routes.
  wait_finished(c, key, running);
  cov.saw(get_job, c.Get("/jobs/" + running, k), 200);
  cov.saw(get_job, c.Get(fill(get_job), k), 404);
  cov.saw(cancel, c.Delete(fill(cancel), k), 404);
  cov.saw(cancel, c.Delete("/jobs/" + running, k), 409);
  cov.saw(list, c.Get("/jobs", k), 200);
  cov.saw(list, c.Get("/jobs?limit=0", k), 422);
  cov.saw(metrics_route, c.Get("/metrics", {{"X-API-Key", metrics}}), 200);

  // Keys: none is 401 on every keyed route; one without the scope is 403.
  for (const Route& r : mlgate::routes()) {
    if (!r.scope) continue;
    std::string lacking = r.scope == mlgate::kScopeMetrics ? key
                          : r.scope == mlgate::kScopeRead  ? no_read
                                                           : reader;
    auto send = [&](const httplib::Headers& h) {
      if (std::string(r.method) == "GET") return c.Get(fill(r), h);
      if (std::string(r.method) == "DELETE") return c.Delete(fill(r), h);
      return c.Post(fill(r), h, body, "application/json");
    };
    cov.saw(r, send({}), 401);
    cov.saw(r, send({{"X-API-Key", lacking}}), 403);
  }

  // Framing refusals, on every route, before any key is looked at.
  for (const Route& r : mlgate::routes()) {
    std::string head = std::string(r.method) + " " + fill(r) + " HTTP/1.1\r\nHost: x\r\n";
    std::string tail = "Connection: close\r\n\r\n";
    cov.saw_raw(r, s.port(), head + "Content-Length: 0\r\nContent-Length: 0\r\n" + tail, 400);
    cov.saw_raw(r, s.port(), head + "Transfer-Encoding: chunked\r\n" + tail + "0\r\n\r\n", 411);
    cov.saw_raw(r, s.port(), head + "Content-Encoding: gzip\r\nContent-Length: 0\r\n" + tail, 415);
    std::string many;
    for (int i = 0; i < 101; ++i) many += "X-Filler-" + std::to_string(i) + ": 1\r\n";
    cov.saw_raw(r, s.port(), head + many + tail, 431);
    // A request line longer than the whole head may be (--max-head-bytes).
    cov.saw_raw(r, s.port(),
                std::string(r.method) + " " + fill(r) + "?" + std::string(70'000, 'a') +
                    " HTTP/1.1\r\nHost: x\r\n" + tail,
                414);
  }

  // A head that never ends: 408 once --head-timeout has passed; every
  // route at once, so the test waits one timeout, not one per route.
  {
    ServerProc slow({"--head-timeout", "1s"});
    std::vector<std::future<std::string>> answers;
    for (const Route& r : mlgate::routes())
      answers.push_back(std::async(std::launch::async, [&slow, &r] {
        return raw_exchange(slow.port(), std::string(r.method) + " " + fill(r) + " HTTP/1.1\r\nHost: x\r\n",
                            std::chrono::milliseconds(5000));
      }));
    size_t i = 0;
    for (const Route& r : mlgate::routes()) {
      auto [status, headers] = parse_raw(answers[i++].get());
      CAPTURE(r.operation_id);
      CHECK(status == 408);
      cov.saw(r, status, headers);
    }
  }

  // The per-address limit: every limited route answers 429; /health never.
  {
    ServerProc tight({"--limit-ip", "3/min"});
    auto t = tight.client();
    for (int i = 0; i < 3; ++i) t.Get("/");
    for (const Route& r : mlgate::routes()) {
      if (!r.ip_limited) continue;
      auto res = std::string(r.method) == "GET"      ? t.Get(fill(r))
                 : std::string(r.method) == "DELETE" ? t.Delete(fill(r))
                                                     : t.Post(fill(r), body, "application/json");
      cov.saw(r, res, 429);
    }
    cov.saw(health, t.Get("/health"), 200);
  }

  // A full queue: 503 with Retry-After.
  {
    TempDir qt;
    const std::string qgate = (qt.path / "gate").string();
    ServerProc q({"--model", "exec", "--exec", gated_model(qgate), "--workers", "1", "--queue-max", "1"});
    auto qc = q.client();
    std::string qk = q.create_key("q");
    cov.saw(predict, post_predict(qc, qk), 202);  // held: the queue's one place
    auto full = post_predict(qc, qk);
    cov.saw(predict, full, 503);
    CHECK(full->has_header("Retry-After"));
    std::ofstream(qgate).flush();
  }

  // What no request here can provoke on purpose: 500 (an internal error)
  // and 503 other than a full queue (every connection thread taken, a
  // failing disk, a stuck worker).
  for (const Route& r : mlgate::routes())
    for (const auto& [status, _] : cov.op(r)["responses"].items()) {
      if (cov.seen.count(std::string(r.operation_id) + " " + status)) continue;
      CAPTURE(r.operation_id);
      CAPTURE(status);
      CHECK((status == "500" || status == "503"));
    }
  (void)root;
}

TEST_CASE("every documented parameter does what the document says") {
  const json doc = mlgate::openapi_document(MLGATE_VERSION);
  ServerProc s({"--tier", "fast=1000/s", "--limit-poll", "1000/s"});
  auto c = s.client();
  std::string key = s.create_key("alice", {"--tier", "fast"});
  httplib::Headers k = {{"X-API-Key", key}};
  std::set<std::string> honoured;

  // Prefer: wait=N answers 200 with the finished job, saying so.
  auto r = c.Post("/predict", {{"X-API-Key", key}, {"Prefer", "wait=10"}},
                  R"({"text": "A fine and lovely day"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Preference-Applied") == "wait=10");
  CHECK(json::parse(r->body)["status"] == "completed");
  honoured.insert("createJob Prefer");

  // Idempotency-Key: the same body replays the job; another body is a 422.
  std::string body = R"({"text": "An idempotent request"})";
  auto a = c.Post("/predict", {{"X-API-Key", key}, {"Idempotency-Key", "same"}}, body, "application/json");
  auto b = c.Post("/predict", {{"X-API-Key", key}, {"Idempotency-Key", "same"}}, body, "application/json");
  REQUIRE((a && b));
  CHECK(a->status == 202);
  CHECK(b->status == 200);
  CHECK(json::parse(a->body)["job_uuid"] == json::parse(b->body)["job_uuid"]);
  auto other = c.Post("/predict", {{"X-API-Key", key}, {"Idempotency-Key", "same"}},
                      R"({"text": "Another body entirely"})", "application/json");
  REQUIRE(other);
  CHECK(other->status == 422);
  honoured.insert("createJob Idempotency-Key");

  // job_uuid names the job, on GET and DELETE.
  std::string id = json::parse(a->body)["job_uuid"];
  wait_finished(c, key, id);
  auto got = c.Get("/jobs/" + id, k);
  REQUIRE(got);
  CHECK(json::parse(got->body)["job_uuid"] == id);
  honoured.insert("getJob job_uuid");
  auto del = c.Delete("/jobs/" + id, k);
  REQUIRE(del);
  CHECK(del->status == 409);  // that job, finished
  CHECK(json::parse(del->body)["detail"] == "Job already completed");
  honoured.insert("cancelJob job_uuid");

  // status, limit and cursor on GET /jobs.
  for (int i = 0; i < 3; ++i) {
    auto p = c.Post("/predict", {{"X-API-Key", key}, {"Prefer", "wait=10"}},
                    R"({"text": "Listing jobs page by page"})", "application/json");
    REQUIRE(p);
  }
  auto all = json::parse(c.Get("/jobs?limit=100", k)->body)["jobs"];
  REQUIRE(all.size() == 5);
  auto page1 = json::parse(c.Get("/jobs?limit=2", k)->body);
  CHECK(page1["jobs"].size() == 2);
  honoured.insert("listJobs limit");
  REQUIRE(page1["next_cursor"].is_string());
  auto page2 = json::parse(c.Get("/jobs?limit=2&cursor=" + page1["next_cursor"].get<std::string>(), k)->body);
  REQUIRE(page2["jobs"].size() == 2);
  CHECK(page2["jobs"][0]["job_uuid"] == all[2]["job_uuid"]);  // continues, newest first
  honoured.insert("listJobs cursor");
  auto done = json::parse(c.Get("/jobs?status=completed&limit=100", k)->body)["jobs"];
  CHECK(done.size() == 5);
  for (auto& j : done) CHECK(j["status"] == "completed");
  CHECK(json::parse(c.Get("/jobs?status=pending", k)->body)["jobs"].empty());
  honoured.insert("listJobs status");

  for (const Route& rt : mlgate::routes()) {
    const json& op = doc["paths"][rt.path][lower(rt.method)];
    if (!op.contains("parameters")) continue;
    for (const json& p : op["parameters"]) {
      std::string name = std::string(rt.operation_id) + " " + p["name"].get<std::string>();
      CHECK_MESSAGE(honoured.count(name), "documented but not shown to work: " << name);
    }
  }
}
