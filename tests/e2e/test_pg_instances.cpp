// Several mlgate instances on one PostgreSQL database (issue 15), through
// real HTTP: a job posted on A is read and canceled on B, keys made with
// the CLI work everywhere at once and revocations hold within a second,
// Idempotency-Key is unique across instances, a job posted on a busy
// instance runs on an idle one, SIGKILL of an instance loses no accepted
// job, and PostgreSQL restarted under load costs 503s, never a lost job.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>

#include "harness.hpp"
#include "harness_pg.hpp"
#include "harness_sh.hpp"
#include "harness_wire.hpp"

using namespace std::chrono_literals;

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// `mlgate keys ...` against the database at `url`.
CliResult keys_cli(const std::string& url, std::vector<std::string> args) {
  args.insert(args.begin(), "keys");
  args.insert(args.end(), {"--database", url});
  return run_cli(args);
}

std::string make_key(const std::string& url, const std::string& name) {
  CliResult r = keys_cli(url, {"create", "--name", name, "--tier", "fast"});
  if (r.status != 0) throw std::runtime_error("keys create failed: " + r.err);
  return trimmed(r.out);
}

std::vector<std::string> instance_args(const std::string& url, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--database", url, "--tier", "fast=1000/s", "--limit-ip", "10000/s",
                                "--limit-poll", "10000/s"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

json get_job(const ServerProc& s, const std::string& key, const std::string& id, int* status = nullptr) {
  auto c = s.client();
  auto r = c.Get("/jobs/" + id, {{"X-API-Key", key}});
  if (status) *status = r ? r->status : 0;
  if (!r || r->status != 200) return json();
  return json::parse(r->body);
}

template <class P>
bool eventually(P pred, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("instances on one PostgreSQL: a job posted on A is read and canceled on B; keys from "
          "the CLI work everywhere at once and revocations hold within a second" * test::needs_pg()) {
  auto& pg = test::PgServer::shared();
  const std::string url = pg.url(pg.create_database());
  TempDir gates;
  const std::string gate = (gates.path / "open").string();
  ServerProc a(instance_args(url, {"--model", "exec", "--exec", gated_model(gate), "--workers", "1"}));
  ServerProc b(instance_args(url, {"--model", "exec", "--exec", gated_model(gate), "--workers", "1"}));
  const std::string key = make_key(url, "alice");

  // The key works on both at once: no restart, no refresh wait.
  auto ca = a.client(), cb = b.client();
  auto first = post_predict(ca, key);
  REQUIRE(first);
  REQUIRE(first->status == 202);
  const std::string id = json::parse(first->body)["job_uuid"];
  auto second = post_predict(cb, key);
  REQUIRE(second);
  CHECK(second->status == 202);
  // Read on the other instance.
  int status = 0;
  json j = get_job(b, key, id, &status);
  CHECK(status == 200);
  CHECK(j["job_uuid"] == id);
  // A third job waits (both workers hold one each): cancel it on the other instance.
  auto third = post_predict(ca, key);
  REQUIRE(third);
  const std::string id3 = json::parse(third->body)["job_uuid"];
  auto del = cb.Delete("/jobs/" + id3, {{"X-API-Key", key}});
  REQUIRE(del);
  CHECK(del->status == 200);
  CHECK(get_job(a, key, id3)["status"] == "canceled");
  // Cancel a running job on the instance that does not run it: it ends
  // canceled, and stays so once the gate opens (its late result dropped).
  CHECK(eventually([&] { return get_job(a, key, id)["status"] == "running"; }, 5s));
  auto del1 = cb.Delete("/jobs/" + id, {{"X-API-Key", key}});
  REQUIRE(del1);
  CHECK(del1->status == 200);
  std::ofstream(gate).put('\n');
  auto second_id = json::parse(second->body)["job_uuid"].get<std::string>();
  CHECK(eventually([&] { return get_job(a, key, second_id)["status"] == "completed"; }, 10s));
  CHECK(get_job(b, key, id)["status"] == "canceled");

  // Revocation through the CLI: refused on both within a second.
  CliResult list = keys_cli(url, {"list", "--json"});
  REQUIRE(list.status == 0);
  std::string kid;
  for (auto& k : json::parse(list.out)) kid = k["id"];
  REQUIRE_FALSE(kid.empty());
  const auto t = Clock::now();
  REQUIRE(keys_cli(url, {"revoke", kid}).status == 0);
  CHECK(eventually([&] {
    auto r1 = ca.Get("/jobs/" + id, {{"X-API-Key", key}});
    auto r2 = cb.Get("/jobs/" + id, {{"X-API-Key", key}});
    return r1 && r2 && r1->status == 401 && r2->status == 401;
  }, 1000ms));
  MESSAGE("revocation held on both instances after " << ms_since(t) << " ms");
}

TEST_CASE("instances on one PostgreSQL: Idempotency-Key is one job across instances; a job posted "
          "on a busy instance runs on an idle one" * test::needs_pg()) {
  auto& pg = test::PgServer::shared();
  const std::string url = pg.url(pg.create_database());
  TempDir gates;
  const std::string gate = (gates.path / "open").string();
  // A's one worker is held by a gated model; B runs the built-in model.
  ServerProc a(instance_args(url, {"--model", "exec", "--exec", gated_model(gate), "--workers", "1"}));
  ServerProc b(instance_args(url));
  const std::string key = make_key(url, "alice");

  std::mutex mu;
  std::set<std::string> ids;
  {
    auto poster = [&](const ServerProc* s) {
      auto c = s->client();
      auto r = post_predict(c, key, "the same text again", {{"Idempotency-Key", "order-42"}});
      REQUIRE(r);
      CHECK((r->status == 202 || r->status == 200));
      std::lock_guard lock(mu);
      ids.insert(json::parse(r->body)["job_uuid"].get<std::string>());
    };
    std::jthread t1(poster, &a), t2(poster, &b), t3(poster, &a), t4(poster, &b);
  }
  CHECK(ids.size() == 1);

  // Fill A's one worker: a job still running after 300 ms is A's (B's
  // built-in model finishes one in milliseconds).
  auto ca = a.client();
  std::string held;
  std::this_thread::sleep_for(300ms);  // the job above may be the one A holds
  if (get_job(b, key, *ids.begin())["status"] == "running") held = *ids.begin();
  for (int i = 0; i < 20 && held.empty(); ++i) {
    auto r = post_predict(ca, key, "filler number " + std::to_string(i));
    REQUIRE(r);
    REQUIRE(r->status == 202);
    const std::string id = json::parse(r->body)["job_uuid"];
    std::this_thread::sleep_for(300ms);
    if (get_job(b, key, id)["status"] == "running") held = id;
  }
  REQUIRE_FALSE(held.empty());
  // Now every job posted on busy A is run by B's idle workers.
  for (int i = 0; i < 3; ++i) {
    const auto t = Clock::now();
    auto r = post_predict(ca, key, "good news number " + std::to_string(i));
    REQUIRE(r);
    REQUIRE(r->status == 202);
    const std::string id = json::parse(r->body)["job_uuid"];
    CHECK(eventually([&] { return get_job(b, key, id)["status"] == "completed"; }, 5s));
    MESSAGE("job posted on busy A completed by B after " << ms_since(t) << " ms");
  }
  std::ofstream(gate).put('\n');
}

TEST_CASE("instances on one PostgreSQL: SIGKILL of an instance running jobs loses none; the "
          "other completes each once within the lease plus 5 s" * test::needs_pg()) {
  auto& pg = test::PgServer::shared();
  const std::string url = pg.url(pg.create_database());
  TempDir gates;
  const std::string gate = (gates.path / "never").string();  // A's model never answers
  ServerProc a(instance_args(url, {"--model", "exec", "--exec", gated_model(gate), "--workers", "2",
                                   "--job-lease", "2s"}));
  const std::string key = make_key(url, "alice");
  auto ca = a.client();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto r = post_predict(ca, key, "some text number " + std::to_string(i));
    REQUIRE(r);
    REQUIRE(r->status == 202);
    ids.push_back(json::parse(r->body)["job_uuid"]);
  }
  CHECK(eventually([&] { return get_job(a, key, ids[0])["status"] == "running"; }, 5s));
  a.signal(SIGKILL);
  a.wait_exit();
  const auto t = Clock::now();
  ServerProc b(instance_args(url, {"--job-lease", "2s"}));
  bool all = eventually([&] {
    for (auto& id : ids)
      if (get_job(b, key, id)["status"] != "completed") return false;
    return true;
  }, 7s);  // the lease (2 s) plus 5 s
  CHECK(all);
  MESSAGE("every accepted job completed on B " << ms_since(t) << " ms after A was killed");
  for (auto& id : ids) {
    json j = get_job(b, key, id);
    CHECK(j["status"] == "completed");
    CHECK(j["attempts"].get<int>() <= 2);  // at most A's interrupted attempt and B's
  }
  // A's orphaned model children end with their gate.
  std::ofstream(gate).put('\n');
}

TEST_CASE("instances on one PostgreSQL: PostgreSQL restarted under load answers 503, loses no "
          "accepted job, and service resumes by itself" * test::needs_pg()) {
  test::PgServer pg;  // its own: this test stops it
  const std::string url = pg.url(pg.create_database());
  ServerProc a(instance_args(url)), b(instance_args(url));
  const std::string key = make_key(url, "alice");
  std::mutex mu;
  std::vector<std::string> accepted;
  std::atomic<int> refused{0}, other{0};
  std::atomic<bool> stop{false};
  auto load = [&](const ServerProc* s) {
    auto c = s->client();
    c.set_read_timeout(10, 0);
    while (!stop.load()) {
      auto r = post_predict(c, key);
      if (r && r->status == 202) {
        std::lock_guard lock(mu);
        accepted.push_back(json::parse(r->body)["job_uuid"]);
      } else if (r && r->status == 503) {
        CHECK(r->has_header("Retry-After"));
        refused.fetch_add(1);
      } else {
        other.fetch_add(1);
      }
      std::this_thread::sleep_for(5ms);
    }
  };
  {
    std::jthread la(load, &a), lb(load, &b);
    std::this_thread::sleep_for(500ms);
    pg.stop();
    std::this_thread::sleep_for(1500ms);
    // Down: /health says so.
    auto hc = a.client();
    auto h = hc.Get("/health");
    REQUIRE(h);
    CHECK(h->status == 503);
    CHECK(h->body.find("PostgreSQL") != std::string::npos);
    pg.start();
    // Back: both instances accept again by themselves.
    const auto t = Clock::now();
    CHECK(eventually([&] {
      auto c1 = a.client(), c2 = b.client();
      auto ra = post_predict(c1, key);
      auto rb = post_predict(c2, key);
      return ra && rb && ra->status == 202 && rb->status == 202;
    }, 10s));
    MESSAGE("both instances accepted again " << ms_since(t) << " ms after PostgreSQL returned");
    std::this_thread::sleep_for(300ms);
    stop = true;
  }
  CHECK(refused.load() > 0);
  CHECK(other.load() == 0);
  // Every job answered 202 exists and completes.
  for (auto& id : accepted)
    CHECK(eventually([&] { return get_job(a, key, id)["status"] == "completed"; }, 10s));
  MESSAGE(accepted.size() << " jobs accepted, " << refused.load() << " refused with 503 while down");
}

TEST_CASE("PostgreSQL over TLS: sslmode=verify-full against the cluster's certificate works end to "
          "end; a certificate from another authority is refused with one line" * test::needs_pg()) {
  TempDir certs;
  std::filesystem::create_directories(certs.path / "server");
  std::filesystem::create_directories(certs.path / "other");
  const TlsFiles server = make_test_certificate((certs.path / "server").string());
  const TlsFiles other = make_test_certificate((certs.path / "other").string());
  test::PgServer pg(test::PgTls{server.cert, server.key});
  const std::string db = pg.create_database();
  const std::string url = pg.tls_url(db, server.cert);

  ServerProc s(instance_args(url));  // makes the tables
  const std::string key = make_key(url, "tls");
  auto c = s.client();
  auto r = post_predict(c, key, "The service was good and I liked it", {{"Prefer", "wait=10"}});
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(json::parse(r->body)["status"] == "completed");
  // Every connection mlgate holds to this database is encrypted.
  const std::string plain = pg.sql("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                                   "WHERE a.datname = '" + db + "' AND NOT s.ssl");
  const std::string tls = pg.sql("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                                 "WHERE a.datname = '" + db + "' AND s.ssl");
  CHECK(plain == "0");
  CHECK(std::stoi(tls) > 0);

  // A server certificate the given authority did not sign: refused.
  CliResult bad = keys_cli(pg.tls_url(db, other.cert), {"list"});
  CHECK(bad.status != 0);
  CHECK(line_count(bad.err) == 1);
  CHECK_MESSAGE(bad.err.find("certificate") != std::string::npos, bad.err);
}

}  // namespace e2e
