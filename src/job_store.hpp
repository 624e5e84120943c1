// job_store.hpp: durable jobs in one SQLite file.
//
// Contract:
// - insert() returns only after the job's row is committed with
//   synchronous=FULL in WAL mode: a job answered 202 survives a crash or a
//   power cut. Concurrent inserts share one commit (group commit): a single
//   writer thread owns the write connection and commits every operation that
//   arrived while the previous commit was on its way to disk. An idle store
//   commits a lone job at once; no timer adds latency.
// - Reads (get, list) use a pool of their own connections and never wait for
//   the writer (WAL readers see the last committed state).
// - The number of unfinished (pending or running) jobs is bounded: insert()
//   answers QueueFull at the bound and stores nothing.
// - Storage failures (disk full, I/O error) surface as StorageUnavailable;
//   the store keeps running and recovers when the storage does.
// - The writer checks after each commit, and once a second when idle, that
//   the database, its -wal and its -shm are still the files at their paths.
//   When one was deleted or replaced, every later write is refused (until a
//   restart: SQLite would go on writing to the unlinked file). If the main
//   file is intact, the WAL's commits are first copied into it
//   (checkpoint), so no job answered 202 is lost with a deleted WAL. A batch
//   whose commit may have gone to a lost file is reported as failed.
// - failure() says why storage is failing: such a fault, a file found
//   corrupt (until a restart), the last commit failed, or a read failed in
//   the last 30 s.
// - Thread-safe: every public member may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <utility>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cursor.hpp"
#include "db.hpp"
#include "db_file.hpp"

namespace mlgate {

struct Job {
  int64_t seq = 0;
  std::string uuid, owner, key_id, status, input;
  int attempts = 0;
  std::optional<std::string> result_label;
  std::optional<double> result_score;
  std::optional<std::string> result;  // JSON text of the model's detail
  std::optional<std::string> error;
  int64_t created_at = 0;
  std::optional<int64_t> started_at, finished_at;

  bool finished() const {
    return status == "completed" || status == "failed" || status == "canceled";
  }
};

// The public job object of the HTTP API (no input, no owner).
nlohmann::json job_to_json(const Job& job);

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

struct JobStoreOptions {
  std::string path;          // the SQLite file
  size_t queue_max = 10000;  // bound on unfinished jobs
  int max_attempts = 3;      // a job failing this often is marked failed
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
};

class JobStore {
 public:
  // Opens (creating) the file, migrates the schema, and returns jobs left
  // `running` by a crash to `pending` (their attempt stays counted; a job
  // whose attempts are used up becomes failed). Throws DbError.
  explicit JobStore(JobStoreOptions opt);
  ~JobStore();  // commits what is queued, then closes the writer
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  InsertResult insert(const NewJob& job, int64_t now_ms);

  std::optional<Job> get(std::string_view uuid, std::string_view owner);
  std::optional<Job> get_by_seq(int64_t seq);

  struct Page {
    std::vector<Job> jobs;
    std::optional<int64_t> next_before;  // pass back as `before` for the next page
  };
  // The owner's jobs, newest first, strictly older than `before` when given.
  Page list(std::string_view owner, std::optional<std::string> status,
            int limit, std::optional<int64_t> before);

  enum class CancelOutcome { Canceled, CanceledRunning, NotFound, Finished };
  struct CancelResult {
    CancelOutcome outcome;
    std::optional<Job> job;
  };
  CancelResult cancel(std::string_view uuid, std::string_view owner,
                      int64_t now_ms);

  // Pending jobs, oldest first, with their run_after time (startup).
  std::vector<std::pair<int64_t, int64_t>> pending_jobs();
  // Marks the given pending jobs running; skips any no longer pending.
  std::vector<ClaimedJob> claim(const std::vector<int64_t>& seqs, int64_t now_ms);
  // Records outcomes of claimed jobs; ignores jobs canceled meanwhile.
  void finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms);

  // Deletes up to `batch` finished jobs older than `before_ms`; returns the count.
  size_t purge_finished(int64_t before_ms, size_t batch);

  // Runs fn(db) on the writer thread inside its transaction; for callers
  // that need a write outside the job tables (the limiter's saved state).
  void write(const std::function<void(Db&)>& fn);

  size_t unfinished() const { return unfinished_.load(std::memory_order_relaxed); }
  size_t queue_max() const { return opt_.queue_max; }
  int max_attempts() const { return opt_.max_attempts; }
  // Commits and operations committed since start (mean batch = ops/commits).
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t committed_ops() const { return ops_.load(std::memory_order_relaxed); }
  // False after the last commit failed, until one succeeds.
  bool writable() const { return writable_.load(std::memory_order_relaxed); }
  // Why storage is failing at `now_ms` (see the contract), or "" when it is not.
  std::string failure(int64_t now_ms) const;
  // An integrity check found `problem`: failure() reports it until a restart.
  void mark_corrupt(const std::string& problem);
  // This database's key for GET /jobs cursors.
  const CursorKey& cursor_key() const { return cursor_key_; }

 private:
  struct WriteOp;
  class ReaderLease;
  void submit(WriteOp& op);
  void writer_loop(std::stop_token st);
  void commit_batch(std::vector<WriteOp*>& batch);
  ReaderLease reader();
  void recover();
  // Records a failed read (see failure()) and throws StorageUnavailable.
  [[noreturn]] void read_failed(const DbError& e);
  void note_write_failure(const std::exception& e);
  // Writer thread: the files still at their paths? Sets fault_ if not;
  // false when a batch just committed cannot be trusted to be on disk.
  bool check_files();

  JobStoreOptions opt_;
  std::atomic<size_t> unfinished_{0};
  std::atomic<uint64_t> commits_{0}, ops_{0};
  std::atomic<bool> writable_{true};
  CursorKey cursor_key_{};

  // What failure() reports. The atomics let a healthy /health skip the lock.
  static constexpr int64_t kReadFailureWindowMs = 30'000;
  std::atomic<bool> faulted_{false};           // a file deleted or replaced: writes refused
  std::atomic<bool> corrupt_{false};
  std::atomic<int64_t> read_failed_at_ms_{0};  // 0: no read has failed
  mutable std::mutex status_mu_;               // guards the four reasons
  std::string fault_, corrupt_reason_, read_reason_, write_reason_;
  std::optional<FileWatch> watch_;             // used by the writer thread only

  std::unique_ptr<CachedDb> writer_db_;  // owned by the writer thread after start

  // The submitters of one batch wait on that batch's own Batch (shared so
  // that it outlives the writer's notify), so a commit wakes exactly the
  // threads whose operations it carried, not those queued for the next one.
  struct Batch {
    std::mutex mu;  // guards done
    std::condition_variable cv;
    bool done = false;
  };
  std::mutex write_mu_;                   // guards queue_ and batch_
  std::condition_variable_any write_cv_;  // the writer waits for work
  std::vector<WriteOp*> queue_;
  std::shared_ptr<Batch> batch_ = std::make_shared<Batch>();  // what queue_ will be

  std::mutex readers_mu_;  // guards readers_
  std::vector<std::unique_ptr<CachedDb>> readers_;  // idle read connections

  std::jthread writer_;  // last member: stops and joins before the rest goes
};

}  // namespace mlgate
