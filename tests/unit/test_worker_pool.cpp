// WorkerPool over a real JobStore: retries with backoff, exhaustion, cancel
// of a running job through its stop_token, stop with jobs left pending, and
// outcomes recorded once storage recovers.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "clock.hpp"
#include "sqlite_job_store.hpp"
#include "temp_dir.hpp"
#include "worker_pool.hpp"

using namespace mlgate;
using namespace std::chrono_literals;

namespace {

struct TmpDb {
  testutil::TempDir dir{"mlgate-wp-"};
  std::string path = dir.file("jobs.db");
};

int64_t add_job(JobStore& s, const std::string& input = "some text to score") {
  NewJob nj;
  nj.owner = "alice";
  nj.key_id = "k";
  nj.input = input;
  auto r = s.insert(nj, wall_ms());
  REQUIRE(r.outcome == InsertOutcome::Created);
  return r.job.seq;
}

// Fails the first `fail_times` calls for each text, recording when each
// call came; then answers.
class FlakyModel : public Model {
 public:
  explicit FlakyModel(int fail_times) : fail_times_(fail_times) {}
  std::string_view name() const override { return "flaky"; }
  Prediction predict(std::string_view text, std::stop_token) override {
    std::lock_guard lock(mu_);
    auto& calls = calls_[std::string(text)];
    calls.push_back(mono_ns());
    if (static_cast<int>(calls.size()) <= fail_times_)
      throw ModelError("boom " + std::to_string(calls.size()));
    order_.push_back(std::string(text));
    return {"positive", 0.25, {{"calls", calls.size()}}};
  }
  std::vector<int64_t> calls(const std::string& text) {
    std::lock_guard lock(mu_);
    return calls_[text];
  }
  std::vector<std::string> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  int fail_times_;
  std::mutex mu_;
  std::map<std::string, std::vector<int64_t>> calls_;
  std::vector<std::string> order_;
};

// Blocks until released or stopped; a stop makes it give up as a model
// should (ModelError).
class BlockingModel : public Model {
 public:
  std::string_view name() const override { return "blocking"; }
  Prediction predict(std::string_view, std::stop_token stop) override {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, stop, [&] { return released_; });
    if (!released_) {
      ++stopped_;
      throw ModelError("stopped");
    }
    return {"neutral", 0.0, nlohmann::json::object()};
  }
  bool wait_started(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return started_ >= n; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  int stopped() {
    std::lock_guard lock(mu_);
    return stopped_;
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  int started_ = 0, stopped_ = 0;
  bool released_ = false;
};

// Polls until the store's count of unfinished jobs is `n` (it is counted
// down just after the commit that a reader may already see).
size_t wait_unfinished(JobStore& s, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.unfinished() != n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  return s.unfinished();
}

// Polls the store until the job is finished (or 10 s pass).
Job wait_finished(JobStore& s, int64_t seq) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  std::optional<Job> j;
  while (std::chrono::steady_clock::now() < deadline) {
    j = s.get_by_seq(seq);
    if (j && j->finished()) break;
    std::this_thread::sleep_for(2ms);
  }
  REQUIRE(j);
  return *j;
}

}  // namespace

TEST_CASE("a job that fails twice is retried with growing backoff and completes on the third attempt") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  FlakyModel m(2);
  WorkerPool pool(s, m, {.workers = 2, .batch = 8, .retry_base_ms = 20, .retry_max_ms = 1000});
  pool.start();
  int64_t seq = add_job(s, "flaky text");
  pool.submit(seq);
  Job j = wait_finished(s, seq);
  CHECK(j.status == JobStatus::Completed);
  CHECK(j.attempts == 3);
  CHECK_FALSE(j.error);
  auto calls = m.calls("flaky text");
  REQUIRE(calls.size() == 3);
  // Lower bounds only: the scheduler can delay a retry, never hasten it.
  CHECK(calls[1] - calls[0] >= 20'000'000);
  CHECK(calls[2] - calls[1] >= 40'000'000);
  CHECK(wait_unfinished(s, 0) == 0);
}

TEST_CASE("a job failing every attempt is failed with its last error after max_attempts") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  FlakyModel m(1000);
  WorkerPool pool(s, m, {.workers = 1, .batch = 8, .retry_base_ms = 1, .retry_max_ms = 5});
  pool.start();
  int64_t seq = add_job(s, "always fails");
  pool.submit(seq);
  Job j = wait_finished(s, seq);
  CHECK(j.status == JobStatus::Failed);
  CHECK(j.attempts == 3);
  REQUIRE(j.error);
  CHECK(*j.error == "boom 3");
  CHECK(m.calls("always fails").size() == 3);
  CHECK(wait_unfinished(s, 0) == 0);
}

TEST_CASE("canceling a running job stops its model through the stop_token and the job stays canceled") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  BlockingModel m;
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  int64_t seq = add_job(s);
  pool.submit(seq);
  REQUIRE(m.wait_started(1));
  auto job = s.get_by_seq(seq);
  REQUIRE(job->status == JobStatus::Running);
  auto r = s.cancel(job->uuid, "alice", wall_ms());
  CHECK(r.outcome == JobStore::CancelOutcome::CanceledRunning);
  CHECK(pool.cancel(seq));
  // The model gives up; its "failure" is not retried over the cancel.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (m.stopped() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(m.stopped() == 1);
  while (pool.running() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  // A second job runs to completion on the same worker: the canceled one
  // was not put back in front of it.
  m.release();
  int64_t next = add_job(s);
  pool.submit(next);
  CHECK(wait_finished(s, next).status == JobStatus::Completed);
  CHECK(m.started() == 2);
  auto after = s.get_by_seq(seq);
  CHECK(after->status == JobStatus::Canceled);
  CHECK_FALSE(after->result_label);
  CHECK_FALSE(pool.cancel(seq));  // no longer running here
}

TEST_CASE("stop leaves unstarted jobs pending and gives an interrupted job its attempt back") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  BlockingModel m;
  std::vector<int64_t> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back(add_job(s));
  {
    WorkerPool pool(s, m, {.workers = 1, .batch = 2, .retry_base_ms = 1, .retry_max_ms = 1});
    pool.start();  // queues the four pending jobs
    REQUIRE(m.wait_started(1));
    pool.stop(0ms);  // grace over at once: the running model is asked to stop
  }
  CHECK(m.started() == 1);
  for (int64_t seq : seqs) {
    auto j = s.get_by_seq(seq);
    CAPTURE(seq);
    CHECK(j->status == JobStatus::Pending);
    CHECK(j->attempts == 0);
  }
  CHECK(s.unfinished() == 4);
}

TEST_CASE("stop lets a running job finish within the grace") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  BlockingModel m;
  int64_t seq = add_job(s);
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  REQUIRE(m.wait_started(1));
  std::jthread releaser([&] {
    std::this_thread::sleep_for(50ms);
    m.release();
  });
  pool.stop(10s);
  auto j = s.get_by_seq(seq);
  CHECK(j->status == JobStatus::Completed);
  CHECK(m.stopped() == 0);
}

TEST_CASE("start runs jobs left pending on disk, oldest first") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  FlakyModel m(0);
  std::vector<int64_t> seqs;
  for (int i = 0; i < 5; ++i) seqs.push_back(add_job(s, "text number " + std::to_string(i)));
  WorkerPool pool(s, m, {.workers = 1, .batch = 2, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  for (int64_t seq : seqs) CHECK(wait_finished(s, seq).status == JobStatus::Completed);
  std::vector<std::string> want;
  for (int i = 0; i < 5; ++i) want.push_back("text number " + std::to_string(i));
  CHECK(m.order() == want);
}

TEST_CASE("outcomes that could not be recorded while storage failed are recorded once it recovers") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  BlockingModel m;
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  int64_t seq = add_job(s);
  pool.submit(seq);
  REQUIRE(m.wait_started(1));
  // Writes now fail while the job runs: a file-size limit of one byte makes
  // every write to the WAL fail with EFBIG (an I/O error to SQLite), as a
  // full disk would. SIGXFSZ, which would end the process, is ignored.
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit saved{};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  rlimit tiny{1, saved.rlim_max};
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &tiny) == 0);
  m.release();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s.writable() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  bool refused = !s.writable();  // the worker's finish() was refused
  JobStatus status_meanwhile = s.get_by_seq(seq)->status;
  std::this_thread::sleep_for(50ms);  // a few of the worker's retries fail too
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  REQUIRE(refused);
  CHECK(status_meanwhile == JobStatus::Running);
  Job j = wait_finished(s, seq);
  CHECK(j.status == JobStatus::Completed);
  CHECK(j.attempts == 1);
  CHECK(s.writable());
  CHECK(wait_unfinished(s, 0) == 0);
}

TEST_CASE("a model that throws something other than a std::exception fails the attempt; the worker lives on") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  struct ThrowsInt : Model {
    std::atomic<int> calls{0};
    std::string_view name() const override { return "throws-int"; }
    Prediction predict(std::string_view, std::stop_token) override {
      if (calls++ == 0) throw 42;
      return {"positive", 1.0, nlohmann::json::object()};
    }
  } m;
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  int64_t seq = add_job(s);
  pool.submit(seq);
  Job j = wait_finished(s, seq);
  CHECK(j.status == JobStatus::Completed);
  CHECK(j.attempts == 2);
  CHECK(pool.errors().model == 1);
}

TEST_CASE("the recorded-outcome callback says finished only for completed or failed, not for a retry") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  FlakyModel m(1);
  std::mutex mu;
  std::vector<std::pair<int64_t, bool>> calls;
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.set_on_recorded([&](int64_t seq, bool finished) {
    std::lock_guard lock(mu);
    calls.emplace_back(seq, finished);
  });
  pool.start();
  int64_t seq = add_job(s);
  pool.submit(seq);
  CHECK(wait_finished(s, seq).status == JobStatus::Completed);
  pool.stop(0ms);
  std::lock_guard lock(mu);
  CHECK(calls == std::vector<std::pair<int64_t, bool>>{{seq, false}, {seq, true}});
  CHECK(pool.errors().model == 1);
}

TEST_CASE("a claim refused by storage is counted, and the job stays pending") {
  TmpDb t;
  SqliteJobStore s({t.path, 100, 3});
  FlakyModel m(0);
  int64_t seq = add_job(s);
  // A WAL deleted under the store: every write after it is refused.
  REQUIRE(std::remove((t.path + "-wal").c_str()) == 0);
  add_job(s);  // the commit that notices (kept: its WAL was copied)
  REQUIRE_FALSE(s.failure(wall_ms()).empty());
  WorkerPool pool(s, m, {.workers = 1, .batch = 1, .retry_base_ms = 1, .retry_max_ms = 1});
  pool.start();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (pool.errors().claim == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(pool.errors().claim >= 1);
  CHECK(s.get_by_seq(seq)->status == JobStatus::Pending);
  CHECK(m.calls("some text to score").empty());
}
