// job_store.hpp: durable jobs, as an interface. The SQLite file is one
// implementation (sqlite_job_store.hpp); a shared database will be another,
// and both pass the same contract suite (tests/contract/job_store_contract).
//
// Contract, for every implementation:
// - insert() returns only after the job is durably stored: a job answered
//   202 survives a crash or a power cut. An idempotency key is unique per
//   owner: the same key with the same request hash replays the first job,
//   with another hash it is a Conflict; neither stores anything.
// - The number of unfinished (pending or running) jobs is bounded:
//   insert() answers QueueFull at the bound and stores nothing.
// - A job moves pending -> running (claim) -> completed | failed, or back to
//   pending for a retry; cancel() ends a pending or running job. A finished
//   job (completed, failed, canceled) never changes again: an outcome
//   recorded for a job canceled meanwhile is dropped.
// - Two claimers never get the same job: a claim marks the job running and
//   counts its attempt in the same atomic step.
// - recover() is the start-up step after a crash: jobs left running by a
//   process that is gone are made pending again (their attempt stays
//   counted); one that has used all its attempts is failed instead.
// - Errors (the one style across the store layer): an outcome the caller
//   acts on is a value (InsertOutcome, CancelOutcome, an empty optional);
//   storage that cannot answer now (disk full, I/O error, database down) is
//   the exception StorageUnavailable, which the HTTP layer turns into a 503.
// - Thread-safe: every member may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cursor.hpp"
#include "job_status.hpp"
#include "job_waiters.hpp"

namespace mlgate {

struct Job {
  int64_t seq = 0;
  std::string uuid, owner, key_id;
  JobStatus status = JobStatus::Pending;
  std::string input;
  int attempts = 0;
  std::optional<std::string> result_label;
  std::optional<double> result_score;
  std::optional<std::string> result;  // JSON text of the model's detail
  std::optional<std::string> error;
  int64_t created_at = 0;
  std::optional<int64_t> started_at, finished_at;

  bool finished() const { return is_finished(status); }
};

// The public job object of the HTTP API (no input, no owner).
nlohmann::json job_to_json(const Job& job);
// A new job's id: a UUIDv7 (RFC 9562) for `now_ms`, time-ordered.
std::string new_job_uuid(int64_t now_ms);

struct NewJob {
  std::string owner, key_id, input;
  std::optional<std::string> idempotency_key;
  std::string request_hash;  // SHA-256 of the body, with an idempotency key
};

enum class InsertOutcome { Created, Replayed, Conflict, QueueFull };
struct InsertResult {
  InsertOutcome outcome;
  Job job;  // the new or the remembered job (Created, Replayed)
};

struct StorageUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A job claimed by a worker: marked running, attempt counted.
struct ClaimedJob {
  int64_t seq;
  std::string uuid, input;
  int attempts;
};

struct JobOutcome {
  enum Kind { Completed, Failed, Retry, Interrupted } kind = Completed;
  int64_t seq = 0;
  std::string uuid;  // for log lines; the store goes by seq
  std::string label;
  double score = 0;
  std::string detail_json;
  std::string error;
  int64_t run_after_ms = 0;  // Retry: not before this wall time
  // The attempt this outcome is for (ClaimedJob::attempts): a shared store
  // records it only while that attempt is still the job's current one and
  // held by this instance (a fencing token: an instance that paused past
  // its lease and wakes late records nothing). 0: not checked.
  int attempt = 0;
};

// What a store shared by several instances tells the workers of this one.
struct JobStoreEvents {
  // Jobs became claimable that this process did not submit (another
  // instance accepted them, a lease expired, notifications were missed):
  // idle workers should claim_next().
  std::function<void()> jobs_available;
  // A job was canceled, on any instance, while running: stop it if it runs here.
  std::function<void(int64_t seq)> cancel_requested;
};

// What a list of jobs asks for. Without an owner: every owner's jobs (the
// admin CLI); the HTTP API always names the key's owner.
struct JobQuery {
  std::optional<std::string> owner;
  std::optional<JobStatus> status;
  int limit = 20;
  std::optional<int64_t> before;  // only jobs older than this seq (the cursor)
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  virtual InsertResult insert(const NewJob& job, int64_t now_ms) = 0;

  virtual std::optional<Job> get(std::string_view uuid, std::string_view owner) = 0;
  // Any owner's job (the admin CLI).
  virtual std::optional<Job> get_any(std::string_view uuid) = 0;
  virtual std::optional<Job> get_by_seq(int64_t seq) = 0;

  struct Page {
    std::vector<Job> jobs;
    std::optional<int64_t> next_before;  // pass back as `before` for the next page
  };
  // Jobs newest first (by seq), at most q.limit, strictly older than q.before.
  virtual Page list(const JobQuery& q) = 0;
  Page list(std::string_view owner, std::optional<JobStatus> status, int limit,
            std::optional<int64_t> before) {
    return list(JobQuery{std::string(owner), status, limit, before});
  }

  enum class CancelOutcome { Canceled, CanceledRunning, NotFound, Finished };
  struct CancelResult {
    CancelOutcome outcome;
    std::optional<Job> job;
  };
  // Ends a pending or running job of `owner`. CanceledRunning: a worker may
  // be running it; the caller asks the worker to stop.
  virtual CancelResult cancel(std::string_view uuid, std::string_view owner, int64_t now_ms) = 0;

  // Pending jobs, oldest first, with their run_after time (start-up).
  virtual std::vector<std::pair<int64_t, int64_t>> pending_jobs() = 0;
  // Marks the given pending jobs running; skips any no longer pending.
  virtual std::vector<ClaimedJob> claim(const std::vector<int64_t>& seqs, int64_t now_ms) = 0;
  // Marks up to `limit` pending jobs whose run_after has come running,
  // oldest first.
  virtual std::vector<ClaimedJob> claim_next(size_t limit, int64_t now_ms) = 0;
  // Records outcomes of claimed jobs; ignores jobs canceled meanwhile.
  virtual void finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms) = 0;

  struct Recovery {
    size_t requeued = 0, failed = 0;
  };
  // See the contract: the start-up step after a crash.
  virtual Recovery recover(int64_t now_ms) = 0;

  // Deletes up to `batch` jobs that finished before `before_ms`; returns the count.
  virtual size_t purge_finished(int64_t before_ms, size_t batch) = 0;

  // Waits for a job to finish. watch_finish() before the job can run, so a
  // fast job cannot finish unobserved; wait_finished() is true once the job
  // was completed, failed or canceled within `timeout`, false at the timeout
  // or after close_waits() (shutdown: every wait returns at once).
  virtual JobWaiters::Token watch_finish(int64_t seq) = 0;
  virtual bool wait_finished(const JobWaiters::Token& w, std::chrono::milliseconds timeout) = 0;
  virtual void close_waits() = 0;

  // Unfinished (pending or running) jobs, and their bound.
  virtual size_t unfinished() const = 0;
  virtual size_t queue_max() const = 0;
  virtual int max_attempts() const = 0;

  // Health, for /health and /metrics.
  // Why storage is failing at `now_ms`, or "" when it is not.
  virtual std::string failure(int64_t now_ms) const = 0;
  // An integrity check found `problem`: failure() reports it until a restart.
  virtual void mark_corrupt(const std::string& problem) = 0;
  // Commits and operations committed since start (mean batch = ops/commits).
  virtual uint64_t commits() const = 0;
  virtual uint64_t committed_ops() const = 0;
  // This database's key for GET /jobs cursors.
  virtual const CursorKey& cursor_key() const = 0;

  // Several instances share this store (PostgreSQL): jobs are taken with
  // claim_next() by every instance, and set_events() says when.
  virtual bool shared() const { return false; }
  virtual void set_events(JobStoreEvents) {}
};

}  // namespace mlgate
