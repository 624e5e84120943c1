// The JobStore on PostgreSQL: the contract suite against a real PostgreSQL
// 15 (tests/e2e/harness_pg), then what only a shared store has: leases,
// fencing, notifications between instances, the bound and idempotency
// across instances, schema versions, and the database going away.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "../contract/job_store_contract.hpp"
#include "../e2e/harness_pg.hpp"

#if MLGATE_HAVE_LIBPQ
#include "pg_conn.hpp"
#include "pg_job_store.hpp"
#include "pg_schema.hpp"
#endif

using namespace std::chrono_literals;

#if MLGATE_HAVE_LIBPQ
namespace mlgate {
namespace {

constexpr int64_t T0 = 1'900'000'000'000;

PgJobStoreOptions options_for(const std::string& conninfo, int64_t lease_ms = 300, bool serve = false) {
  PgJobStoreOptions o;
  o.pg.conninfo = conninfo;
  o.pg.connect_timeout = 2s;
  o.pg.query_timeout = 2s;
  o.lease_ms = lease_ms;
  o.serve = serve;
  o.pool_size = 4;
  return o;
}

NewJob job_for(const std::string& owner) {
  NewJob nj;
  nj.owner = owner;
  nj.key_id = "key_" + owner;
  nj.input = "good";
  return nj;
}

JobOutcome completed(int64_t seq, int attempt = 0) {
  JobOutcome o;
  o.kind = JobOutcome::Completed;
  o.seq = seq;
  o.attempt = attempt;
  o.label = "positive";
  o.score = 0.5;
  o.detail_json = "{}";
  return o;
}

// Waits up to `limit` for pred(); true when it held.
template <class P>
bool eventually(P pred, std::chrono::milliseconds limit = 5s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// Handles without the listener and lease keeper (serve = false): the
// contract drives recovery itself, and a keeper would take the dead
// handle's jobs before the contract's recover() looks.
struct PgJobBackend : contract::JobStoreBackend {
  std::string conninfo = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  std::unique_ptr<JobStore> open(const contract::JobStoreLimits& l) override {
    auto o = options_for(conninfo);
    o.queue_max = l.queue_max;
    o.max_attempts = l.max_attempts;
    return std::make_unique<PgJobStore>(o);
  }
  void after_crash() override { std::this_thread::sleep_for(400ms); }  // the 300 ms lease
};

}  // namespace

MLGATE_JOB_STORE_CONTRACT_IF("postgresql", test::needs_pg(), [] { return std::make_unique<PgJobBackend>(); })

TEST_CASE("postgresql array literals: text quoted and escaped, NULL kept, integers bare") {
  CHECK(pg_array(std::vector<PgParam>{"a", "b\"c", std::nullopt, "d\\e", "{,}"}) ==
        R"({"a","b\"c",NULL,"d\\e","{,}"})");
  CHECK(pg_array(std::vector<PgParam>{}) == "{}");
  CHECK(pg_array(std::vector<int64_t>{1, -2, 9007199254740993}) == "{1,-2,9007199254740993}");
  CHECK(pg_array(std::vector<int64_t>{}) == "{}");
}

TEST_CASE("postgresql job store: a live instance's running jobs are not taken over" * test::needs_pg()) {
  const std::string ci = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  PgJobStore a(options_for(ci, 600, true));  // its keeper renews the lease
  PgJobStore b(options_for(ci, 600, true));
  int64_t seq = a.insert(job_for("alice"), T0).job.seq;
  REQUIRE(a.claim({seq}, T0).size() == 1);
  std::this_thread::sleep_for(1500ms);  // more than twice the lease
  CHECK(b.recover(T0 + 10).requeued == 0);
  CHECK(a.get_by_seq(seq)->status == JobStatus::Running);
  a.finish({completed(seq, 1)}, T0 + 20);
  CHECK(b.get_by_seq(seq)->status == JobStatus::Completed);
}

TEST_CASE("postgresql job store: a dead instance's job is taken over after its lease, and its "
          "late outcome is dropped" * test::needs_pg()) {
  const std::string ci = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  auto dying = std::make_unique<PgJobStore>(options_for(ci, 300, false));  // no keeper: never renews
  PgJobStore b(options_for(ci, 300, true));
  std::atomic<int> woken{0};
  b.set_events({[&] { woken.fetch_add(1); }, nullptr});
  int64_t seq = dying->insert(job_for("alice"), T0).job.seq;
  REQUIRE(dying->claim({seq}, T0).size() == 1);
  woken = 0;
  // b's keeper finds the lease run out and gives the job back to the queue,
  // and tells the workers (its own included) through NOTIFY.
  CHECK(eventually([&] { return b.get_by_seq(seq)->status == JobStatus::Pending; }));
  CHECK(eventually([&] { return woken.load() > 0; }));
  auto again = b.claim_next(10, T0 + 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0].attempts == 2);
  // The first instance wakes late and records its attempt: dropped.
  dying->finish({completed(seq, 1)}, T0 + 2);
  CHECK(b.get_by_seq(seq)->status == JobStatus::Running);
  // Even without the attempt number, another instance's lease fences it.
  dying->finish({completed(seq, 0)}, T0 + 2);
  CHECK(b.get_by_seq(seq)->status == JobStatus::Running);
  b.finish({completed(seq, 2)}, T0 + 3);
  CHECK(b.get_by_seq(seq)->status == JobStatus::Completed);
}

TEST_CASE("postgresql job store: instances hear of new jobs, outcomes and cancels" * test::needs_pg()) {
  const std::string ci = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  PgJobStore a(options_for(ci, 5000, true));
  PgJobStore b(options_for(ci, 5000, true));
  std::atomic<int> b_woken{0}, a_woken{0};
  std::atomic<int64_t> a_cancel{0};
  a.set_events({[&] { a_woken.fetch_add(1); }, [&](int64_t s) { a_cancel = s; }});
  b.set_events({[&] { b_woken.fetch_add(1); }, nullptr});
  std::this_thread::sleep_for(300ms);  // both listening
  a_woken = 0;
  b_woken = 0;

  // A job posted on A wakes B's workers, not A's own (A submits it itself).
  const auto t = std::chrono::steady_clock::now();
  auto job = a.insert(job_for("alice"), T0).job;
  CHECK(eventually([&] { return b_woken.load() > 0; }));
  MESSAGE("notification reached the other instance after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count()
          << " ms");
  CHECK(a_woken.load() == 0);

  // A `Prefer: wait` on A answers when B finishes the job.
  auto w = a.watch_finish(job.seq);
  auto claimed = b.claim_next(1, T0 + 1);
  REQUIRE(claimed.size() == 1);
  std::jthread finisher([&] {
    std::this_thread::sleep_for(50ms);
    b.finish({completed(job.seq, claimed[0].attempts)}, T0 + 2);
  });
  CHECK(a.wait_finished(w, 10s));

  // Cancel on B of a job running on A reaches A.
  auto second = b.insert(job_for("alice"), T0 + 3).job;
  REQUIRE(a.claim({second.seq}, T0 + 4).size() == 1);
  CHECK(b.cancel(second.uuid, "alice", T0 + 5).outcome == JobStore::CancelOutcome::CanceledRunning);
  CHECK(eventually([&] { return a_cancel.load() == second.seq; }));
}

TEST_CASE("postgresql job store: the bound and idempotency keys hold across instances" * test::needs_pg()) {
  const std::string ci = test::PgServer::shared().conninfo(test::PgServer::shared().create_database());
  auto oa = options_for(ci);
  oa.queue_max = 5;
  PgJobStore a(oa), b(oa);
  std::atomic<int> created{0}, full{0};
  {
    auto poster = [&](PgJobStore& s) {
      for (int i = 0; i < 10; ++i) {
        auto r = s.insert(job_for("alice"), T0);
        (r.outcome == InsertOutcome::Created ? created : full).fetch_add(1);
      }
    };
    std::jthread t1(poster, std::ref(a)), t2(poster, std::ref(b)), t3(poster, std::ref(a));
  }
  CHECK(created.load() == 5);
  CHECK(full.load() == 25);
  CHECK(b.unfinished() == 5);

  // The same Idempotency-Key from both instances at once: one job.
  auto ob = options_for(test::PgServer::shared().conninfo(test::PgServer::shared().create_database()));
  PgJobStore c(ob), d(ob);
  std::mutex mu;
  std::set<std::string> uuids;
  std::atomic<int> made{0};
  {
    auto poster = [&](PgJobStore& s) {
      NewJob nj = job_for("alice");
      nj.idempotency_key = "same";
      nj.request_hash = "hash";
      for (int i = 0; i < 5; ++i) {
        auto r = s.insert(nj, T0);
        if (r.outcome == InsertOutcome::Created) made.fetch_add(1);
        CHECK((r.outcome == InsertOutcome::Created || r.outcome == InsertOutcome::Replayed));
        std::lock_guard lock(mu);
        uuids.insert(r.job.uuid);
      }
    };
    std::jthread t1(poster, std::ref(c)), t2(poster, std::ref(d));
  }
  CHECK(made.load() == 1);
  CHECK(uuids.size() == 1);
}

TEST_CASE("postgresql job store: schema versions" * test::needs_pg()) {
  auto& pg = test::PgServer::shared();
  const std::string db = pg.create_database();
  // Instances starting together migrate once, without an error.
  {
    std::vector<std::jthread> ts;
    std::atomic<int> failed{0};
    for (int i = 0; i < 4; ++i)
      ts.emplace_back([&] {
        try {
          PgJobStore s(options_for(pg.conninfo(db)));
        } catch (const std::exception& e) {
          failed.fetch_add(1);
          MESSAGE(e.what());
        }
      });
    ts.clear();
    CHECK(failed.load() == 0);
  }
  CHECK(pg.sql("SELECT count(*) FROM mlgate_schema", db) == std::to_string(kPgSchemaVersion));
  // A database a newer mlgate migrated is refused, untouched.
  pg.sql("INSERT INTO mlgate_schema VALUES (99, 0)", db);
  try {
    PgJobStore s(options_for(pg.conninfo(db)));
    FAIL("a newer schema was accepted");
  } catch (const PgSchemaTooNew& e) {
    CHECK(std::string(e.what()).find("version 99") != std::string::npos);
  }
}

TEST_CASE("postgresql job store: the database stopped and started again" * test::needs_pg()) {
  test::PgServer pg;  // its own server: this test stops it
  const std::string db = pg.create_database();
  PgJobStore s(options_for(pg.conninfo(db), 5000, true));
  auto kept = s.insert(job_for("alice"), T0).job;
  CHECK(s.failure(T0).empty());
  pg.stop();
  const auto t = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(s.insert(job_for("alice"), T0), StorageUnavailable);
  CHECK_THROWS_AS(s.get(kept.uuid, "alice"), StorageUnavailable);
  CHECK(std::chrono::steady_clock::now() - t < 5s);  // within the timeouts, not hung
  CHECK_FALSE(s.failure(T0).empty());
  pg.start();
  // Connections are made anew: service resumes by itself.
  CHECK(eventually([&] {
    try {
      return s.insert(job_for("alice"), T0 + 1).outcome == InsertOutcome::Created;
    } catch (const StorageUnavailable&) {
      return false;
    }
  }));
  CHECK(s.failure(T0).empty());
  CHECK(s.get(kept.uuid, "alice")->status == JobStatus::Pending);  // nothing accepted was lost
}

}  // namespace mlgate
#endif
