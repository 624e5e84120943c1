// JobStore against a real SQLite file: group commit, crash recovery, the
// bound on unfinished jobs, idempotency, cancel, listing, retention, and
// storage failures.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "clock.hpp"
#include "sqlite_job_store.hpp"
#include "temp_dir.hpp"
#include "../contract/job_store_contract.hpp"

using namespace mlgate;

namespace {

struct TmpDb {
  testutil::TempDir dir{"mlgate-js-"};
  std::string path = dir.file("jobs.db");
};

NewJob job_for(const std::string& owner, const std::string& input = "some text to score",
               std::optional<std::string> ikey = std::nullopt,
               const std::string& hash = "") {
  NewJob nj;
  nj.owner = owner;
  nj.key_id = "k_" + owner;
  nj.input = input;
  nj.idempotency_key = std::move(ikey);
  nj.request_hash = hash;
  return nj;
}

// What a second process (the CLI, or the server after a restart) sees.
int64_t count_rows(const std::string& path, const char* where = "1") {
  Db db = Db::open(path, true);
  Stmt st = db.prepare(std::string("SELECT count(*) FROM jobs WHERE ") + where);
  st.step();
  return st.i64(0);
}

JobOutcome completed(int64_t seq) {
  JobOutcome o;
  o.kind = JobOutcome::Completed;
  o.seq = seq;
  o.label = "positive";
  o.score = 0.5;
  o.detail_json = R"({"compound":0.5})";
  return o;
}

}  // namespace

TEST_CASE("an accepted job is committed: another connection sees it as soon as insert returns") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto r = s.insert(job_for("alice"), wall_ms());
  REQUIRE(r.outcome == InsertOutcome::Created);
  CHECK(r.job.status == JobStatus::Pending);
  CHECK(count_rows(t.path, "status='pending'") == 1);
  auto got = s.get(r.job.uuid, "alice");
  REQUIRE(got);
  CHECK(got->seq == r.job.seq);
  CHECK(s.unfinished() == 1);
}

TEST_CASE("concurrent inserts share commits (group commit) and none is lost") {
  TmpDb t;
  SqliteJobStore s({t.path, 100000});
  constexpr int kThreads = 8, kEach = 150;
  std::vector<std::vector<std::string>> ids(kThreads);
  {
    std::vector<std::jthread> th;
    for (int i = 0; i < kThreads; ++i)
      th.emplace_back([&, i] {
        for (int k = 0; k < kEach; ++k) {
          auto r = s.insert(job_for("o" + std::to_string(i % 2)), wall_ms());
          if (r.outcome == InsertOutcome::Created) ids[i].push_back(r.job.uuid);
        }
      });
  }
  std::set<std::string> all;
  for (auto& v : ids) all.insert(v.begin(), v.end());
  CHECK(all.size() == kThreads * kEach);
  CHECK(count_rows(t.path) == kThreads * kEach);
  CHECK(s.committed_ops() >= kThreads * kEach);
  // Eight threads that each wait for their commit: a commit carries more
  // than one insert, or group commit is not happening.
  CHECK(s.commits() < s.committed_ops());
  MESSAGE("mean batch: " << double(s.committed_ops()) / double(s.commits()));
}

TEST_CASE("a job left running by a crash is pending again at the next open, its attempt counted") {
  TmpDb t;
  int64_t seq;
  {
    SqliteJobStore s({t.path});
    seq = s.insert(job_for("alice"), wall_ms()).job.seq;
    auto claimed = s.claim({seq}, wall_ms());
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].attempts == 1);
    // Destroyed without finish(): what a SIGKILL mid-run leaves on disk.
  }
  CHECK(count_rows(t.path, "status='running'") == 1);
  SqliteJobStore s({t.path});
  CHECK(s.recover(wall_ms()).requeued == 1);  // what the server does at start-up
  auto j = s.get_by_seq(seq);
  REQUIRE(j);
  CHECK(j->status == JobStatus::Pending);
  CHECK(j->attempts == 1);
  CHECK_FALSE(j->started_at);
  CHECK(s.unfinished() == 1);
  auto pending = s.pending_jobs();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].first == seq);
  // The next claim is its second attempt.
  auto again = s.claim({seq}, wall_ms());
  REQUIRE(again.size() == 1);
  CHECK(again[0].attempts == 2);
}

TEST_CASE("a job running at a crash with its attempts used up is failed, not run again") {
  TmpDb t;
  int64_t seq;
  {
    SqliteJobStore s({t.path, 100, 1});
    seq = s.insert(job_for("alice"), wall_ms()).job.seq;
    REQUIRE(s.claim({seq}, wall_ms()).size() == 1);
  }
  SqliteJobStore s({t.path, 100, 1});
  CHECK(s.recover(wall_ms()).failed == 1);
  auto j = s.get_by_seq(seq);
  REQUIRE(j);
  CHECK(j->status == JobStatus::Failed);
  REQUIRE(j->error);
  CHECK(j->error->find("crash") != std::string::npos);
  CHECK(j->finished_at);
  CHECK(s.unfinished() == 0);
  CHECK(s.pending_jobs().empty());
}

TEST_CASE("pending jobs are handed back oldest first") {
  TmpDb t;
  std::vector<int64_t> seqs;
  {
    SqliteJobStore s({t.path});
    for (int i = 0; i < 5; ++i) seqs.push_back(s.insert(job_for("a"), wall_ms()).job.seq);
  }
  SqliteJobStore s({t.path});
  std::vector<int64_t> got;
  for (auto [seq, run_after] : s.pending_jobs()) got.push_back(seq);
  CHECK(got == seqs);
}

TEST_CASE("at the bound on unfinished jobs an insert is refused and nothing is stored") {
  TmpDb t;
  SqliteJobStore s({t.path, 3});
  std::vector<int64_t> seqs;
  for (int i = 0; i < 3; ++i) {
    auto r = s.insert(job_for("a"), wall_ms());
    REQUIRE(r.outcome == InsertOutcome::Created);
    seqs.push_back(r.job.seq);
  }
  CHECK(s.insert(job_for("a"), wall_ms()).outcome == InsertOutcome::QueueFull);
  CHECK(count_rows(t.path) == 3);
  CHECK(s.unfinished() == 3);
  // A finished job frees its place.
  REQUIRE(s.claim({seqs[0]}, wall_ms()).size() == 1);
  s.finish({completed(seqs[0])}, wall_ms());
  CHECK(s.unfinished() == 2);
  CHECK(s.insert(job_for("a"), wall_ms()).outcome == InsertOutcome::Created);
  CHECK(s.insert(job_for("a"), wall_ms()).outcome == InsertOutcome::QueueFull);
  CHECK(count_rows(t.path) == 4);
}

TEST_CASE("concurrent inserts never overshoot the bound on unfinished jobs") {
  TmpDb t;
  SqliteJobStore s({t.path, 50});
  std::atomic<int> created{0};
  {
    std::vector<std::jthread> th;
    for (int i = 0; i < 6; ++i)
      th.emplace_back([&] {
        for (int k = 0; k < 30; ++k)
          if (s.insert(job_for("a"), wall_ms()).outcome == InsertOutcome::Created) ++created;
      });
  }
  CHECK(created == 50);
  CHECK(count_rows(t.path) == 50);
}

TEST_CASE("Idempotency-Key: same owner and body replays, another body conflicts, another owner is apart") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto first = s.insert(job_for("alice", "text one here", "ik-1", "hash-A"), wall_ms());
  REQUIRE(first.outcome == InsertOutcome::Created);
  auto again = s.insert(job_for("alice", "text one here", "ik-1", "hash-A"), wall_ms());
  CHECK(again.outcome == InsertOutcome::Replayed);
  CHECK(again.job.uuid == first.job.uuid);
  auto other_body = s.insert(job_for("alice", "text two here", "ik-1", "hash-B"), wall_ms());
  CHECK(other_body.outcome == InsertOutcome::Conflict);
  auto bob = s.insert(job_for("bob", "text one here", "ik-1", "hash-A"), wall_ms());
  CHECK(bob.outcome == InsertOutcome::Created);
  CHECK(bob.job.uuid != first.job.uuid);
  CHECK(count_rows(t.path) == 2);
  CHECK(s.unfinished() == 2);  // replays and conflicts hold no place
}

TEST_CASE("concurrent inserts with one Idempotency-Key make one job") {
  TmpDb t;
  SqliteJobStore s({t.path});
  std::vector<std::string> uuids(8);
  {
    std::vector<std::jthread> th;
    for (int i = 0; i < 8; ++i)
      th.emplace_back([&, i] {
        uuids[i] = s.insert(job_for("alice", "same text", "ik", "h"), wall_ms()).job.uuid;
      });
  }
  CHECK(std::set<std::string>(uuids.begin(), uuids.end()).size() == 1);
  CHECK(count_rows(t.path) == 1);
  CHECK(s.unfinished() == 1);
}

TEST_CASE("cancel: pending is canceled, finished is refused, another owner's and unknown are not found") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto a = s.insert(job_for("alice"), wall_ms()).job;
  auto b = s.insert(job_for("alice"), wall_ms()).job;
  REQUIRE(s.claim({b.seq}, wall_ms()).size() == 1);
  s.finish({completed(b.seq)}, wall_ms());
  CHECK(s.unfinished() == 1);

  auto r = s.cancel(a.uuid, "bob", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::NotFound);
  r = s.cancel("00000000-0000-4000-8000-000000000000", "alice", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::NotFound);
  r = s.cancel(b.uuid, "alice", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::Finished);
  REQUIRE(r.job);
  CHECK(r.job->status == JobStatus::Completed);

  r = s.cancel(a.uuid, "alice", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::Canceled);
  REQUIRE(r.job);
  CHECK(r.job->status == JobStatus::Canceled);
  CHECK(s.get(a.uuid, "alice")->status == JobStatus::Canceled);
  CHECK(s.unfinished() == 0);
  // A worker that still had it queued finds nothing to claim.
  CHECK(s.claim({a.seq}, wall_ms()).empty());
  // Canceling twice is "already finished".
  CHECK(s.cancel(a.uuid, "alice", wall_ms()).outcome == JobStore::CancelOutcome::Finished);
}

TEST_CASE("a result that arrives after its job was canceled is dropped") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto a = s.insert(job_for("alice"), wall_ms()).job;
  REQUIRE(s.claim({a.seq}, wall_ms()).size() == 1);
  auto r = s.cancel(a.uuid, "alice", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::CanceledRunning);
  CHECK(s.unfinished() == 0);
  s.finish({completed(a.seq)}, wall_ms());
  auto j = s.get(a.uuid, "alice");
  CHECK(j->status == JobStatus::Canceled);
  CHECK_FALSE(j->result_label);
  CHECK(s.unfinished() == 0);  // not counted down twice
}

TEST_CASE("a completed job is never changed by a later outcome for it") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto a = s.insert(job_for("alice"), wall_ms()).job;
  REQUIRE(s.claim({a.seq}, wall_ms()).size() == 1);
  s.finish({completed(a.seq)}, 1000);
  auto before = s.get_by_seq(a.seq);
  CHECK(s.claim({a.seq}, wall_ms()).empty());
  JobOutcome fail;
  fail.kind = JobOutcome::Failed;
  fail.seq = a.seq;
  fail.error = "late";
  s.finish({fail, completed(a.seq)}, 2000);
  auto after = s.get_by_seq(a.seq);
  CHECK(after->status == JobStatus::Completed);
  CHECK(after->finished_at == before->finished_at);
  CHECK(after->attempts == before->attempts);
  CHECK_FALSE(after->error);
}

TEST_CASE("list pages newest first and skips or repeats nothing while new jobs arrive") {
  TmpDb t;
  SqliteJobStore s({t.path});
  std::vector<std::string> original;
  for (int i = 0; i < 25; ++i) original.push_back(s.insert(job_for("alice"), wall_ms()).job.uuid);
  s.insert(job_for("bob"), wall_ms());
  std::vector<std::string> seen;
  std::optional<int64_t> before;
  int pages = 0;
  do {
    auto p = s.list("alice", std::nullopt, 10, before);
    for (auto& j : p.jobs) seen.push_back(j.uuid);
    before = p.next_before;
    ++pages;
    s.insert(job_for("alice"), wall_ms());  // arrives between page requests
  } while (before && pages < 10);
  CHECK(pages == 3);
  std::reverse(original.begin(), original.end());
  CHECK(seen == original);
}

TEST_CASE("list filters by status") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto a = s.insert(job_for("alice"), wall_ms()).job;
  s.insert(job_for("alice"), wall_ms());
  REQUIRE(s.claim({a.seq}, wall_ms()).size() == 1);
  s.finish({completed(a.seq)}, wall_ms());
  auto p = s.list("alice", JobStatus::Completed, 10, std::nullopt);
  REQUIRE(p.jobs.size() == 1);
  CHECK(p.jobs[0].uuid == a.uuid);
  CHECK_FALSE(p.next_before);
  CHECK(s.list("alice", JobStatus::Pending, 10, std::nullopt).jobs.size() == 1);
  CHECK(s.list("alice", JobStatus::Failed, 10, std::nullopt).jobs.empty());
}

TEST_CASE("purge deletes finished jobs older than the cutoff, in batches, and nothing unfinished") {
  TmpDb t;
  SqliteJobStore s({t.path});
  std::vector<JobOutcome> outs;
  std::vector<int64_t> seqs;
  // Created, started and finished long ago (a job's times never run
  // backwards, so all three are in the past).
  for (int i = 0; i < 7; ++i) seqs.push_back(s.insert(job_for("a"), 500).job.seq);
  auto pending = s.insert(job_for("a"), wall_ms()).job;
  for (auto& c : s.claim(seqs, 600)) outs.push_back(completed(c.seq));
  s.finish(outs, 1000);
  CHECK(s.purge_finished(500, 100) == 0);  // none older than the cutoff
  CHECK(s.purge_finished(2000, 3) == 3);
  CHECK(s.purge_finished(2000, 3) == 3);
  CHECK(s.purge_finished(2000, 3) == 1);
  CHECK(s.purge_finished(2000, 3) == 0);
  CHECK(count_rows(t.path) == 1);
  CHECK(s.get_by_seq(pending.seq)->status == JobStatus::Pending);
}

TEST_CASE("a full database refuses inserts as StorageUnavailable, keeps jobs readable, and recovers") {
  TmpDb t;
  SqliteJobStore s({t.path});
  auto kept = s.insert(job_for("alice"), wall_ms()).job;
  // max_page_count is per connection: set it on the writer's own.
  s.writer().run([](CachedDb& c) {
    Db& db = c.db();
    db.exec("PRAGMA max_page_count=" + std::to_string(db.pragma_int("page_count")));
  });
  std::string big(4000, 'x');
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    try {
      s.insert(job_for("alice", big), wall_ms());
    } catch (const StorageUnavailable& e) {
      refused = true;
      CHECK(std::string(e.what()).find("full") != std::string::npos);
    }
  }
  REQUIRE(refused);
  CHECK_FALSE(s.writable());
  int64_t stored = count_rows(t.path);
  CHECK(s.unfinished() == static_cast<size_t>(stored));  // the refused one holds no place
  auto j = s.get(kept.uuid, "alice");
  REQUIRE(j);
  CHECK(j->status == JobStatus::Pending);
  // Space comes back: the next insert works and the store says so.
  s.writer().run([](CachedDb& c) { c.db().exec("PRAGMA max_page_count=1073741823"); });
  CHECK(s.insert(job_for("alice", big), wall_ms()).outcome == InsertOutcome::Created);
  CHECK(s.writable());
  CHECK(count_rows(t.path) == stored + 1);
}

// ---- the JobStore contract (tests/contract), on the SQLite file ----

namespace {
struct SqliteJobBackend : contract::JobStoreBackend {
  TmpDb db;
  std::unique_ptr<JobStore> open(const contract::JobStoreLimits& l) override {
    return std::make_unique<SqliteJobStore>(JobStoreOptions{db.path, l.queue_max, l.max_attempts});
  }
};
}  // namespace

MLGATE_JOB_STORE_CONTRACT("sqlite", [] { return std::make_unique<SqliteJobBackend>(); })
