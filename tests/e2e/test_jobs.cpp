// The job API of DESIGN.md ("Jobs and durability", "HTTP API") against the
// real binary: idempotency, cancel in each state, listing, retention and the
// jobs CLI, backpressure, storage failure, SIGTERM drain, Prefer: wait.
#include <doctest/doctest.h>

#include <dirent.h>
#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "db.hpp"
#include "harness.hpp"

using namespace e2e;
using namespace std::chrono_literals;

namespace {

std::string db_path(const ServerProc& s) { return s.dir() + "/mlgate.db"; }

int64_t count_rows(const ServerProc& s, const std::string& where = "1") {
  mlgate::Db db = mlgate::Db::open(db_path(s), true);
  mlgate::Stmt st = db.prepare("SELECT count(*) FROM jobs WHERE " + where);
  st.step();
  return st.i64(0);
}

std::string accepted_id(const httplib::Result& r) {
  REQUIRE(r);
  REQUIRE(r->status == 202);
  return json::parse(r->body)["job_uuid"];
}

// The server process of a ServerProc, found by its data directory.
pid_t pid_of(const ServerProc& s) {
  pid_t found = -1;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    if (cmd.find(std::string("serve") + '\0') != std::string::npos &&
        cmd.find(s.dir() + '\0') != std::string::npos)
      found = pid;
  }
  closedir(d);
  return found;
}

// POSTs until `stop` from `threads` keep-alive clients; returns the ids answered 202.
struct Burst {
  std::mutex mu;
  std::vector<std::string> accepted;
  std::vector<httplib::Response> refused;  // 503s
  std::atomic<bool> stop{false};
  std::atomic<size_t> n_accepted{0};
  std::vector<std::jthread> threads;

  Burst(int port, const std::string& key, int nthreads, std::string text, size_t max_each) {
    for (int t = 0; t < nthreads; ++t)
      threads.emplace_back([=, this] {
        httplib::Client c("127.0.0.1", port);
        c.set_tcp_nodelay(true);  // see ServerProc::client
        c.set_keep_alive(true);
        c.set_connection_timeout(1);
        for (size_t i = 0; i < max_each && !stop; ++i) {
          auto r = post_predict(c, key, text + " " + std::to_string(t) + "/" + std::to_string(i));
          if (!r) {
            std::this_thread::sleep_for(1ms);
            continue;
          }
          std::lock_guard lock(mu);
          if (r->status == 202) {
            accepted.push_back(json::parse(r->body)["job_uuid"]);
            ++n_accepted;
          } else if (r->status == 503) {
            refused.push_back(*r);
          }
        }
      });
  }
  void join() {
    stop = true;
    threads.clear();
  }
};

}  // namespace

TEST_CASE("Idempotency-Key: a repeat is the same job with 200, another body is a 422, another owner gets its own job") {
  ServerProc s(kFast);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  std::string bob = s.create_key("b", {"--owner", "bob", "--tier", "fast"});
  auto c = s.client();
  const std::string text = "Idempotent requests are a good thing";
  std::string id = accepted_id(post_predict(c, alice, text, {{"Idempotency-Key", "order-1"}}));

  auto again = post_predict(c, alice, text, {{"Idempotency-Key", "order-1"}});
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(json::parse(again->body)["job_uuid"] == id);
  CHECK(again->get_header_value("Location") == "/jobs/" + id);

  auto conflict = post_predict(c, alice, "Another text entirely, not the same",
                               {{"Idempotency-Key", "order-1"}});
  REQUIRE(conflict);
  CHECK(conflict->status == 422);
  auto detail = json::parse(conflict->body)["detail"];
  REQUIRE(detail.is_array());
  CHECK(detail[0]["loc"].dump().find("Idempotency-Key") != std::string::npos);
  CHECK(detail[0]["msg"].get<std::string>().find("different body") != std::string::npos);

  std::string bobs = accepted_id(post_predict(c, bob, text, {{"Idempotency-Key", "order-1"}}));
  CHECK(bobs != id);
  // A key of a repeat after the job finished still finds the same job.
  CHECK(wait_finished(c, alice, id)["status"] == "completed");
  again = post_predict(c, alice, text, {{"Idempotency-Key", "order-1"}});
  REQUIRE(again);
  CHECK(again->status == 200);
  auto replay = json::parse(again->body);
  CHECK(replay["job_uuid"] == id);
  CHECK(replay["status"] == "completed");
  CHECK(count_rows(s) == 2);
}

TEST_CASE("cancel: a pending job is canceled, a finished one is 409, another owner's and an unknown one are 404") {
  // A pending job that stays pending: one waiting out a retry backoff
  // (run_after an hour ahead), written while the server is down, as a
  // failed attempt before a restart would leave it.
  TempDir tmp;
  std::string dir = (tmp.path / "data").string();
  ServerProc s(kFast, dir);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  std::string bob = s.create_key("b", {"--owner", "bob", "--tier", "fast"});
  s.signal(SIGTERM);
  REQUIRE(s.wait_exit() == 0);
  const std::string waiting = "4f6b1a52-0c1e-4b7a-9d3e-111111111111";
  {
    mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db");
    db.prepare("INSERT INTO jobs (uuid, owner, key_id, status, input, attempts, error, "
               "created_at, run_after) VALUES (?, 'alice', 'k', 'pending', "
               "'A text waiting for its retry', 1, 'model failed', ?, ?)")
        .bind(1, waiting)
        .bind(2, int64_t{1'700'000'000'000})
        .bind(3, int64_t{4'000'000'000'000})
        .run();
  }
  s.start();
  auto c = s.client();
  auto r = c.Get("/jobs/" + waiting, {{"X-API-Key", alice}});
  REQUIRE(r);
  REQUIRE(json::parse(r->body)["status"] == "pending");

  r = c.Delete("/jobs/" + waiting, {{"X-API-Key", bob}});
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(json::parse(r->body) == json{{"detail", "Job not found"}});

  r = c.Delete("/jobs/" + waiting, {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 200);
  auto body = json::parse(r->body);
  CHECK(body["status"] == "canceled");
  CHECK(body["job_uuid"] == waiting);
  CHECK_FALSE(body["finished_at"].is_null());
  r = c.Get("/jobs/" + waiting, {{"X-API-Key", alice}});
  CHECK(json::parse(r->body)["status"] == "canceled");

  r = c.Delete("/jobs/" + waiting, {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 409);

  std::string done = accepted_id(post_predict(c, alice));
  REQUIRE(wait_finished(c, alice, done)["status"] == "completed");
  r = c.Delete("/jobs/" + done, {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 409);
  CHECK(json::parse(r->body)["detail"].get<std::string>().find("completed") != std::string::npos);
  r = c.Get("/jobs/" + done, {{"X-API-Key", alice}});
  CHECK(json::parse(r->body)["status"] == "completed");

  r = c.Delete("/jobs/00000000-0000-4000-8000-000000000000", {{"X-API-Key", alice}});
  REQUIRE(r);
  CHECK(r->status == 404);

  // The canceled job held a place in the bound; canceling gave it back.
  auto h = json::parse(c.Get("/health")->body);
  CHECK(h["unfinished_jobs"] == 0);
}

TEST_CASE("GET /jobs pages newest first, with no job skipped or repeated while new jobs arrive") {
  ServerProc s(kFast);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  std::string bob = s.create_key("b", {"--owner", "bob", "--tier", "fast"});
  auto c = s.client();
  std::vector<std::string> mine;
  for (int i = 0; i < 25; ++i) {
    mine.push_back(accepted_id(post_predict(c, alice, "Listing test job number " + std::to_string(i))));
    if (i % 5 == 0) accepted_id(post_predict(c, bob, "Bob's job is not Alice's"));
  }
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    std::string path = "/jobs?limit=10" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto r = c.Get(path, {{"X-API-Key", alice}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    auto page = json::parse(r->body);
    CHECK(page["jobs"].size() <= 10);
    for (auto& j : page["jobs"]) seen.push_back(j["job_uuid"]);
    ++pages;
    // A new job arrives between page requests.
    accepted_id(post_predict(c, alice, "A job that arrives while listing"));
    if (page["next_cursor"].is_null() || pages > 10) break;
    cursor = page["next_cursor"];
  }
  CHECK(pages == 3);
  std::reverse(mine.begin(), mine.end());
  CHECK(seen == mine);
}

TEST_CASE("GET /jobs cursors reveal no sequence number and work only for their owner") {
  ServerProc s(kFast);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  std::string bob = s.create_key("b", {"--owner", "bob", "--tier", "fast"});
  auto c = s.client();
  std::vector<std::string> mine;
  for (int i = 0; i < 3; ++i) {
    mine.push_back(accepted_id(post_predict(c, alice, "Alice's job number " + std::to_string(i))));
    accepted_id(post_predict(c, bob, "Bob's job number " + std::to_string(i)));
  }
  auto page = [&](const std::string& key, const std::string& cursor) {
    auto r = c.Get("/jobs?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor), {{"X-API-Key", key}});
    REQUIRE(r);
    return std::make_pair(r->status, json::parse(r->body));
  };
  auto [st_a, first_a] = page(alice, "");
  auto [st_b, first_b] = page(bob, "");
  REQUIRE(st_a == 200);
  REQUIRE(st_b == 200);
  std::string ca = first_a["next_cursor"], cb = first_b["next_cursor"];
  // Opaque: no digits-only counter, the same shape whatever the number.
  static const std::regex kOpaque("[A-Za-z0-9_-]{22}");
  CHECK(std::regex_match(ca, kOpaque));
  CHECK(std::regex_match(cb, kOpaque));
  CHECK(ca != cb);
  // Alice's cursor pages Alice's jobs; Bob cannot use it (nor the old form).
  auto [st_next, next] = page(alice, ca);
  CHECK(st_next == 200);
  REQUIRE(next["jobs"].size() == 1);
  CHECK(next["jobs"][0]["job_uuid"] == mine[1]);
  CHECK(page(bob, ca).first == 422);
  CHECK(page(alice, "c6").first == 422);
}

TEST_CASE("GET /jobs filters by status and refuses a bad limit, status or cursor with 422") {
  ServerProc s(kFast);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  std::string id = accepted_id(post_predict(c, alice));
  REQUIRE(wait_finished(c, alice, id)["status"] == "completed");
  auto r = c.Get("/jobs?status=completed", {{"X-API-Key", alice}});
  REQUIRE(r);
  auto jobs = json::parse(r->body)["jobs"];
  REQUIRE(jobs.size() == 1);
  CHECK(jobs[0]["job_uuid"] == id);
  r = c.Get("/jobs?status=pending", {{"X-API-Key", alice}});
  CHECK(json::parse(r->body)["jobs"].empty());
  for (std::string q : {"limit=101", "limit=0", "limit=x", "status=done", "cursor=zzz"}) {
    CAPTURE(q);
    r = c.Get("/jobs?" + q, {{"X-API-Key", alice}});
    REQUIRE(r);
    CHECK(r->status == 422);
    CHECK(json::parse(r->body)["detail"].is_array());
  }
  r = c.Get("/jobs?limit=100", {{"X-API-Key", alice}});
  CHECK(r->status == 200);
}

TEST_CASE("jobs list, show and purge from the command line read and trim the server's database") {
  ServerProc s(kFast);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  std::string id = accepted_id(post_predict(c, alice));
  REQUIRE(wait_finished(c, alice, id)["status"] == "completed");

  auto list = run_cli({"jobs", "list", "--data-dir", s.dir()});
  CHECK(list.status == 0);
  CHECK(list.out.find(id) != std::string::npos);
  auto show = run_cli({"jobs", "show", id, "--data-dir", s.dir()});
  CHECK(show.status == 0);
  auto shown = json::parse(show.out);
  CHECK(shown["status"] == "completed");
  CHECK(shown["owner"] == "alice");
  auto none = run_cli({"jobs", "show", "00000000-0000-4000-8000-000000000000", "--data-dir", s.dir()});
  CHECK(none.status == 1);

  CHECK(run_cli({"jobs", "purge", "--data-dir", s.dir()}).status == 2);
  CHECK(run_cli({"jobs", "purge", "--older-than", "1d", "--data-dir", s.dir()}).status == 0);
  CHECK(c.Get("/jobs/" + id, {{"X-API-Key", alice}})->status == 200);  // not a day old
  std::this_thread::sleep_for(5ms);  // finished_at strictly before "now - 0s"
  auto purge = run_cli({"jobs", "purge", "--older-than", "0s", "--data-dir", s.dir()});
  CHECK(purge.status == 0);
  CHECK(purge.err.find("purged 1 ") != std::string::npos);
  CHECK(c.Get("/jobs/" + id, {{"X-API-Key", alice}})->status == 404);
}

TEST_CASE("with --retention 1s a finished job is deleted by the server itself") {
  ServerProc s(with(kFast, {"--retention", "1s"}));
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  std::string id = accepted_id(post_predict(c, alice));
  REQUIRE(wait_finished(c, alice, id)["status"] == "completed");
  // The maintenance pass runs every 30 s at most.
  auto deadline = std::chrono::steady_clock::now() + 45s;
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    status = c.Get("/jobs/" + id, {{"X-API-Key", alice}})->status;
  }
  CHECK(status == 404);
}

TEST_CASE("a full queue answers 503 with Retry-After and stores nothing for the refused POSTs") {
  ServerProc s(with(kFast, {"--queue-max", "5", "--workers", "1"}));
  std::string key = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  std::string text;
  while (text.size() < 4900) text += "The long review goes on and on, good and bad. ";
  Burst burst(s.port(), key, 12, text, 200);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    {
      std::lock_guard lock(burst.mu);
      if (!burst.refused.empty()) break;
    }
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(1ms);
  }
  burst.join();
  REQUIRE_FALSE(burst.refused.empty());
  for (auto& r : burst.refused) {
    CHECK(r.has_header("Retry-After"));
    CHECK(json::parse(r.body)["detail"] == "Job queue is full; try again later");
  }
  auto c = s.client();
  for (auto& id : burst.accepted) CHECK(wait_finished(c, key, id)["status"] == "completed");
  CHECK(count_rows(s) == static_cast<int64_t>(burst.accepted.size()));
}

TEST_CASE("storage that refuses writes gives 503 with a detail, keeps jobs readable, and recovers by itself") {
  // RLIMIT_FSIZE stands in for a full disk (no small filesystem can be
  // mounted here, and root ignores file permissions). Writes past the limit
  // fail with EFBIG, which SQLite reports as an I/O error. The server
  // inherits an ignored SIGXFSZ, whose default action would kill it.
  auto old = ::signal(SIGXFSZ, SIG_IGN);
  ServerProc s(kFast);
  ::signal(SIGXFSZ, old);
  std::string alice = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  std::string kept = accepted_id(post_predict(c, alice));
  REQUIRE(wait_finished(c, alice, kept)["status"] == "completed");
  pid_t pid = pid_of(s);
  REQUIRE(pid > 0);

  rlimit tiny{1, RLIM_INFINITY};
  REQUIRE(prlimit(pid, RLIMIT_FSIZE, &tiny, nullptr) == 0);
  auto r = post_predict(c, alice, "This one cannot be stored right now");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->has_header("Retry-After"));
  CHECK(json::parse(r->body) == json{{"detail", "Storage unavailable; try again later"}});
  auto got = c.Get("/jobs/" + kept, {{"X-API-Key", alice}});
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(json::parse(got->body)["status"] == "completed");
  auto health = c.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 503);
  CHECK(json::parse(health->body)["database"] == "failing");

  rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  REQUIRE(prlimit(pid, RLIMIT_FSIZE, &unlimited, nullptr) == 0);
  std::string after = accepted_id(post_predict(c, alice, "Storage is back and so are we"));
  CHECK(wait_finished(c, alice, after)["status"] == "completed");
  CHECK(c.Get("/health")->status == 200);
  CHECK(count_rows(s) == 2);
}

TEST_CASE("SIGTERM under load exits 0, leaves no job running, and the pending ones complete after a restart") {
  TempDir tmp;
  std::string dir = (tmp.path / "data").string();
  ServerProc s(with(kFast, {"--workers", "1", "--shutdown-grace", "5s"}), dir);
  std::string key = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  Burst burst(s.port(), key, 4, "The drain test says the service was good", 100000);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (burst.n_accepted < 300 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  s.signal(SIGTERM);
  int code = s.wait_exit(20s);
  burst.join();
  CHECK(code == 0);
  REQUIRE(burst.accepted.size() >= 300);
  // A clean stop folds the WAL into the database file (checked before this
  // test opens the database itself: a read-only connection leaves a WAL).
  CHECK_FALSE(std::filesystem::exists(dir + "/mlgate.db-wal"));

  std::map<std::string, std::string> status;
  {
    mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db", true);
    mlgate::Stmt st = db.prepare("SELECT uuid, status FROM jobs");
    while (st.step()) status[st.text(0)] = st.text(1);
  }
  size_t missing = 0, pending = 0, running = 0;
  for (auto& id : burst.accepted) missing += status.count(id) == 0;
  for (auto& [id, st] : status) {
    pending += st == "pending";
    running += st == "running";
  }
  CHECK(missing == 0);
  CHECK(running == 0);
  MESSAGE(burst.accepted.size() << " accepted, " << pending << " pending at exit");

  s.start();
  auto c = s.client();
  c.set_keep_alive(true);
  size_t not_completed = 0;
  for (auto& id : burst.accepted)
    not_completed += wait_finished(c, key, id)["status"] != "completed";
  CHECK(not_completed == 0);
}

TEST_CASE("Prefer: wait=5 answers 200 with the finished job") {
  ServerProc s(kFast);
  std::string key = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  auto r = post_predict(c, key, "Waiting for a result is fine by me", {{"Prefer", "wait=5"}});
  REQUIRE(r);
  CHECK(r->status == 200);
  auto job = json::parse(r->body);
  CHECK(job["status"] == "completed");
  CHECK(job["attempts"] == 1);
  CHECK(r->get_header_value("Preference-Applied") == "wait=5");
  CHECK(r->get_header_value("Location") == "/jobs/" + job["job_uuid"].get<std::string>());
}
