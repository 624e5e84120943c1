// job_store_contract.cpp: the JobStore contract (see job_store_contract.hpp).
#include "job_store_contract.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlgate::contract {

namespace {

using namespace std::chrono_literals;

// A fixed time well after any real job's: the store takes times as given.
constexpr int64_t T0 = 1'900'000'000'000;

NewJob job_for(const std::string& owner, const std::string& input = "good") {
  NewJob nj;
  nj.owner = owner;
  nj.key_id = "key_" + owner;
  nj.input = input;
  return nj;
}

NewJob idempotent(const std::string& owner, const std::string& key, const std::string& hash) {
  NewJob nj = job_for(owner);
  nj.idempotency_key = key;
  nj.request_hash = hash;
  return nj;
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

JobOutcome with_kind(JobOutcome::Kind k, int64_t seq, std::string error = "") {
  JobOutcome o;
  o.kind = k;
  o.seq = seq;
  o.error = std::move(error);
  return o;
}

std::vector<int64_t> seqs_of(const std::vector<ClaimedJob>& c) {
  std::vector<int64_t> out;
  for (auto& j : c) out.push_back(j.seq);
  return out;
}

}  // namespace

void run_job_store_contract(const JobStoreBackendFactory& make) {
  auto backend = make();
  auto store = backend->open({});
  JobStore& s = *store;

  SUBCASE("an inserted job is pending and readable by its owner only") {
    auto r = s.insert(job_for("alice", "hello"), T0);
    REQUIRE(r.outcome == InsertOutcome::Created);
    CHECK(r.job.status == JobStatus::Pending);
    CHECK(r.job.uuid.size() == 36);
    auto j = s.get(r.job.uuid, "alice");
    REQUIRE(j);
    CHECK(j->input == "hello");
    CHECK(j->created_at == T0);
    CHECK(j->attempts == 0);
    CHECK_FALSE(s.get(r.job.uuid, "bob"));
    CHECK(s.get_any(r.job.uuid)->owner == "alice");
    CHECK(s.get_by_seq(r.job.seq)->uuid == r.job.uuid);
    CHECK_FALSE(s.get_any("00000000-0000-7000-8000-000000000000"));
    CHECK(s.unfinished() == 1);
  }

  SUBCASE("any text and any score round-trip exactly: inputs, results and labels") {
    // What a batched statement must carry as data, never as syntax: quotes,
    // backslashes, braces and commas (array literals), the word NULL,
    // spaces at the ends, non-ASCII; and every digit of a score.
    const std::vector<std::string> texts = {
        R"(a "quoted" word)", R"(back\slash\)", "{braces},{and}, commas", "NULL", " spaced ",
        "caf\u00e9 \u2014 \xF0\x9F\x98\x80", "'single' ; DROP TABLE x; --", ""};
    std::vector<int64_t> seqs;
    for (const auto& t : texts) {
      auto r = s.insert(job_for("alice", t), T0);
      REQUIRE(r.outcome == InsertOutcome::Created);
      seqs.push_back(r.job.seq);
    }
    REQUIRE(s.claim_next(texts.size(), T0 + 1).size() == texts.size());
    std::vector<JobOutcome> outs;
    for (size_t i = 0; i < seqs.size(); ++i) {
      JobOutcome o = completed(seqs[i]);
      o.label = texts[i];
      o.score = i == 0 ? 1e-9 : -0.1234567890123 * static_cast<double>(i);
      o.detail_json = nlohmann::json{{"echo", texts[i]}}.dump();
      outs.push_back(o);
    }
    s.finish(outs, T0 + 2);
    for (size_t i = 0; i < seqs.size(); ++i) {
      auto j = s.get_by_seq(seqs[i]);
      REQUIRE(j);
      CHECK(j->input == texts[i]);
      CHECK(j->status == JobStatus::Completed);
      CHECK(j->result_label == texts[i]);
      CHECK(j->result_score == outs[i].score);
      CHECK(j->result == outs[i].detail_json);
    }
  }

  SUBCASE("an idempotency key replays its job, refuses another body, and is per owner") {
    auto first = s.insert(idempotent("alice", "k1", "hash-a"), T0);
    REQUIRE(first.outcome == InsertOutcome::Created);
    auto again = s.insert(idempotent("alice", "k1", "hash-a"), T0 + 1);
    CHECK(again.outcome == InsertOutcome::Replayed);
    CHECK(again.job.uuid == first.job.uuid);
    auto other = s.insert(idempotent("alice", "k1", "hash-b"), T0 + 2);
    CHECK(other.outcome == InsertOutcome::Conflict);
    auto bobs = s.insert(idempotent("bob", "k1", "hash-b"), T0 + 3);
    CHECK(bobs.outcome == InsertOutcome::Created);
    CHECK(bobs.job.uuid != first.job.uuid);
    CHECK(s.unfinished() == 2);  // neither the replay nor the conflict stored a job
    CHECK(s.list(JobQuery{std::nullopt, std::nullopt, 100, std::nullopt}).jobs.size() == 2);
  }

  SUBCASE("inserts past the unfinished bound are refused until a job finishes") {
    auto small = backend->open({.queue_max = 2, .max_attempts = 3});
    auto a = small->insert(job_for("alice"), T0).job;
    small->insert(job_for("alice"), T0);
    CHECK(small->insert(job_for("alice"), T0).outcome == InsertOutcome::QueueFull);
    CHECK(small->unfinished() == 2);
    CHECK(small->cancel(a.uuid, "alice", T0 + 1).outcome == JobStore::CancelOutcome::Canceled);
    CHECK(small->unfinished() == 1);
    CHECK(small->insert(job_for("alice"), T0 + 2).outcome == InsertOutcome::Created);
  }

  SUBCASE("claims take pending jobs oldest first, count the attempt, and skip the rest") {
    std::vector<int64_t> seqs;
    for (int i = 0; i < 5; ++i) seqs.push_back(s.insert(job_for("alice"), T0 + i).job.seq);
    auto first = s.claim_next(2, T0 + 10);
    CHECK(seqs_of(first) == std::vector<int64_t>{seqs[0], seqs[1]});
    CHECK(first[0].attempts == 1);
    CHECK(s.get_by_seq(seqs[0])->status == JobStatus::Running);
    CHECK(s.get_by_seq(seqs[0])->started_at == T0 + 10);
    // By seq: a job already running is skipped, a pending one taken.
    auto named = s.claim({seqs[1], seqs[4]}, T0 + 11);
    CHECK(seqs_of(named) == std::vector<int64_t>{seqs[4]});
    CHECK(seqs_of(s.claim_next(10, T0 + 12)) == std::vector<int64_t>{seqs[2], seqs[3]});
    CHECK(s.claim_next(10, T0 + 13).empty());
    CHECK(s.pending_jobs().empty());
  }

  SUBCASE("a job to retry is claimed again only once its time has come") {
    int64_t seq = s.insert(job_for("alice"), T0).job.seq;
    REQUIRE(s.claim_next(1, T0).size() == 1);
    JobOutcome retry = with_kind(JobOutcome::Retry, seq, "model busy");
    retry.run_after_ms = T0 + 1'000;
    s.finish({retry}, T0 + 1);
    auto j = s.get_by_seq(seq);
    CHECK(j->status == JobStatus::Pending);
    CHECK(j->error == "model busy");
    CHECK(s.claim_next(1, T0 + 999).empty());
    auto again = s.claim_next(1, T0 + 1'000);
    REQUIRE(again.size() == 1);
    CHECK(again[0].attempts == 2);
  }

  SUBCASE("two claimers, on two handles, never get the same job") {
    auto other = backend->open({});
    constexpr int kJobs = 120;
    std::set<int64_t> all;
    for (int i = 0; i < kJobs; ++i) all.insert(s.insert(job_for("alice"), T0).job.seq);
    std::mutex mu;
    std::vector<int64_t> got;
    auto claimer = [&](JobStore& h, bool by_seq) {
      for (;;) {
        // Half the claimers name the jobs they want (the worker pool's
        // way), all of them; the other half take whatever is next.
        auto c = by_seq ? h.claim(std::vector<int64_t>(all.begin(), all.end()), T0 + 1)
                        : h.claim_next(7, T0 + 1);
        if (c.empty()) return;
        std::lock_guard lock(mu);
        for (auto& j : c) got.push_back(j.seq);
      }
    };
    {
      std::jthread a(claimer, std::ref(s), false), b(claimer, std::ref(*other), false),
          c(claimer, std::ref(s), true), d(claimer, std::ref(*other), true);
    }
    std::sort(got.begin(), got.end());
    CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());  // no job twice
    CHECK(std::set<int64_t>(got.begin(), got.end()) == all);         // every job once
  }

  SUBCASE("outcomes: completed and failed are final, retry and interrupted return the job") {
    std::vector<int64_t> seq;
    for (int i = 0; i < 4; ++i) seq.push_back(s.insert(job_for("alice"), T0).job.seq);
    REQUIRE(s.claim_next(4, T0 + 1).size() == 4);
    s.finish({completed(seq[0]), with_kind(JobOutcome::Failed, seq[1], "bad input"),
              with_kind(JobOutcome::Interrupted, seq[2])},
             T0 + 2);
    auto done = s.get_by_seq(seq[0]);
    CHECK(done->status == JobStatus::Completed);
    CHECK(done->result_label == "positive");
    CHECK(done->result_score == 0.5);
    CHECK(done->finished_at == T0 + 2);
    auto failed = s.get_by_seq(seq[1]);
    CHECK(failed->status == JobStatus::Failed);
    CHECK(failed->error == "bad input");
    auto back = s.get_by_seq(seq[2]);
    CHECK(back->status == JobStatus::Pending);
    CHECK(back->attempts == 0);  // an interrupted attempt is given back
    CHECK(s.unfinished() == 2);
    // A finished job never changes again: a late second outcome is dropped.
    s.finish({with_kind(JobOutcome::Failed, seq[0], "late")}, T0 + 3);
    CHECK(s.get_by_seq(seq[0])->status == JobStatus::Completed);
    CHECK(s.unfinished() == 2);
  }

  SUBCASE("cancel ends pending and running jobs, refuses finished ones and other owners") {
    auto pending = s.insert(job_for("alice"), T0).job;
    auto running = s.insert(job_for("alice"), T0).job;
    auto done = s.insert(job_for("alice"), T0).job;
    REQUIRE(s.claim({running.seq, done.seq}, T0 + 1).size() == 2);
    s.finish({completed(done.seq)}, T0 + 2);
    CHECK(s.cancel(pending.uuid, "bob", T0 + 3).outcome == JobStore::CancelOutcome::NotFound);
    CHECK(s.cancel("no-such-job", "alice", T0 + 3).outcome == JobStore::CancelOutcome::NotFound);
    auto c1 = s.cancel(pending.uuid, "alice", T0 + 3);
    CHECK(c1.outcome == JobStore::CancelOutcome::Canceled);
    CHECK(c1.job->status == JobStatus::Canceled);
    CHECK(c1.job->finished_at == T0 + 3);
    CHECK(s.cancel(running.uuid, "alice", T0 + 4).outcome ==
          JobStore::CancelOutcome::CanceledRunning);
    auto c3 = s.cancel(done.uuid, "alice", T0 + 5);
    CHECK(c3.outcome == JobStore::CancelOutcome::Finished);
    CHECK(c3.job->status == JobStatus::Completed);
    CHECK(s.cancel(pending.uuid, "alice", T0 + 6).outcome == JobStore::CancelOutcome::Finished);
    // The canceled running job's late result is dropped.
    s.finish({completed(running.seq)}, T0 + 7);
    CHECK(s.get_by_seq(running.seq)->status == JobStatus::Canceled);
    CHECK(s.unfinished() == 0);
  }

  SUBCASE("list pages newest first through the cursor, filtered by owner and status") {
    std::vector<int64_t> alice;
    for (int i = 0; i < 25; ++i) {
      alice.push_back(s.insert(job_for("alice"), T0 + i).job.seq);
      if (i % 10 == 0) s.insert(job_for("bob"), T0 + i);
    }
    std::vector<int64_t> seen;
    std::optional<int64_t> before;
    int pages = 0;
    do {
      auto p = s.list("alice", std::nullopt, 10, before);
      for (auto& j : p.jobs) {
        CHECK(j.owner == "alice");
        seen.push_back(j.seq);
      }
      before = p.next_before;
      ++pages;
    } while (before && pages < 10);
    CHECK(pages == 3);
    std::vector<int64_t> want(alice.rbegin(), alice.rend());
    CHECK(seen == want);
    REQUIRE(s.claim({alice[3]}, T0 + 100).size() == 1);
    s.finish({completed(alice[3])}, T0 + 101);
    auto done = s.list("alice", JobStatus::Completed, 10, std::nullopt);
    REQUIRE(done.jobs.size() == 1);
    CHECK(done.jobs[0].seq == alice[3]);
    CHECK_FALSE(done.next_before);
    CHECK(s.list("alice", JobStatus::Pending, 100, std::nullopt).jobs.size() == 24);
    CHECK(s.list(JobQuery{std::nullopt, std::nullopt, 100, std::nullopt}).jobs.size() == 28);
    CHECK(s.list("carol", std::nullopt, 10, std::nullopt).jobs.empty());
  }

  SUBCASE("purge deletes finished jobs older than the cutoff, in batches, never unfinished ones") {
    std::vector<int64_t> seq;
    for (int i = 0; i < 5; ++i) seq.push_back(s.insert(job_for("alice"), T0).job.seq);
    REQUIRE(s.claim_next(4, T0).size() == 4);
    s.finish({completed(seq[0]), completed(seq[1]), completed(seq[2])}, T0 + 10);
    s.finish({completed(seq[3])}, T0 + 1'000);
    CHECK(s.purge_finished(T0 + 500, 2) == 2);
    CHECK(s.purge_finished(T0 + 500, 2) == 1);
    CHECK(s.purge_finished(T0 + 500, 2) == 0);
    CHECK_FALSE(s.get_by_seq(seq[0]));
    CHECK(s.get_by_seq(seq[3]));  // finished after the cutoff
    CHECK(s.get_by_seq(seq[4]));  // never finished
    CHECK(s.purge_finished(T0 + 10'000, 100) == 1);
    CHECK(s.get_by_seq(seq[4]));
  }

  SUBCASE("the unfinished count follows inserts, cancels and outcomes, and survives a reopen") {
    std::vector<Job> j;
    for (int i = 0; i < 4; ++i) j.push_back(s.insert(job_for("alice"), T0).job);
    CHECK(s.unfinished() == 4);
    s.cancel(j[0].uuid, "alice", T0 + 1);
    REQUIRE(s.claim({j[1].seq, j[2].seq}, T0 + 1).size() == 2);
    CHECK(s.unfinished() == 3);  // running jobs are unfinished
    s.finish({completed(j[1].seq)}, T0 + 2);
    CHECK(s.unfinished() == 2);
    CHECK(backend->open({})->unfinished() == 2);
  }

  SUBCASE("a wait for a job wakes when it completes or is canceled, not for a retry") {
    int64_t a = s.insert(job_for("alice"), T0).job.seq;
    auto b = s.insert(job_for("alice"), T0).job;
    auto wa = s.watch_finish(a);
    auto wb = s.watch_finish(b.seq);
    REQUIRE(s.claim({a}, T0).size() == 1);
    JobOutcome retry = with_kind(JobOutcome::Retry, a, "again");
    retry.run_after_ms = T0;
    s.finish({retry}, T0 + 1);
    CHECK_FALSE(s.wait_finished(wa, 100ms));  // a retry is not an answer
    wa = s.watch_finish(a);
    REQUIRE(s.claim({a}, T0 + 2).size() == 1);
    std::jthread finisher([&] {
      std::this_thread::sleep_for(50ms);
      s.finish({completed(a)}, T0 + 3);
      s.cancel(b.uuid, "alice", T0 + 3);
    });
    const auto start = std::chrono::steady_clock::now();
    CHECK(s.wait_finished(wa, 30s));
    CHECK(s.wait_finished(wb, 30s));
    CHECK(std::chrono::steady_clock::now() - start < 20s);  // woken, not timed out
  }

  SUBCASE("close_waits ends every wait at once, and later ones") {
    int64_t a = s.insert(job_for("alice"), T0).job.seq;
    auto w = s.watch_finish(a);
    std::jthread closer([&] {
      std::this_thread::sleep_for(50ms);
      s.close_waits();
    });
    const auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(s.wait_finished(w, 30s));
    CHECK(std::chrono::steady_clock::now() - start < 20s);
    CHECK_FALSE(s.wait_finished(s.watch_finish(a), 30s));
  }

  SUBCASE("recovery after a crash requeues running jobs and fails those out of attempts") {
    int64_t again, spent, waiting;
    {
      auto dying = backend->open({.queue_max = 1000, .max_attempts = 2});
      again = dying->insert(job_for("alice"), T0).job.seq;
      spent = dying->insert(job_for("alice"), T0).job.seq;
      waiting = dying->insert(job_for("alice"), T0).job.seq;
      REQUIRE(dying->claim({spent}, T0).size() == 1);
      JobOutcome retry = with_kind(JobOutcome::Retry, spent, "once");
      retry.run_after_ms = T0;
      dying->finish({retry}, T0 + 1);
      REQUIRE(dying->claim({again, spent}, T0 + 2).size() == 2);
      // Gone without recording an outcome: what a SIGKILL leaves.
    }
    backend->after_crash();
    auto next = backend->open({.queue_max = 1000, .max_attempts = 2});
    auto r = next->recover(T0 + 10);
    CHECK(r.requeued == 1);
    CHECK(r.failed == 1);
    auto a = next->get_by_seq(again);
    CHECK(a->status == JobStatus::Pending);
    CHECK(a->attempts == 1);  // the interrupted attempt stays counted
    CHECK_FALSE(a->started_at);
    auto b = next->get_by_seq(spent);
    CHECK(b->status == JobStatus::Failed);
    CHECK(b->finished_at == T0 + 10);
    CHECK(next->get_by_seq(waiting)->status == JobStatus::Pending);
    CHECK(next->unfinished() == 2);
    CHECK(seqs_of(next->claim_next(10, T0 + 11)) == std::vector<int64_t>{again, waiting});
  }
}

}  // namespace mlgate::contract
