// sqlite_job_store.hpp: the JobStore (job_store.hpp) on one SQLite file.
//
// Beyond the interface's contract:
// - Writes go through the file's single writer (sqlite_writer.hpp): group
//   commit with synchronous=FULL in WAL mode, so concurrent inserts share
//   one fsync; the writer also watches the files and reports their health.
// - Reads (get, list) use a pool of their own connections and never wait
//   for the writer (WAL readers see the last committed state).
// - The unfinished-job count is kept in this process (counted at open,
//   then moved by every insert, cancel and finish): one process per file.
// - wait_finished() sees the outcomes this process records.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "db.hpp"
#include "job_store.hpp"
#include "sqlite_writer.hpp"

namespace mlgate {

struct JobStoreOptions {
  std::string path;          // the SQLite file
  size_t queue_max = 10000;  // bound on unfinished jobs
  int max_attempts = 3;      // a job failing this often is marked failed
  // Fold the WAL into the file at close (a clean stop leaves one file);
  // false for a short-lived handle beside a running server (the admin CLI).
  bool checkpoint_at_close = true;
};

class SqliteJobStore final : public JobStore {
 public:
  // Opens (creating) the file and migrates the schema. Does not recover():
  // the server calls it at start-up; the admin CLI, beside a running
  // server, must not. Throws DbError.
  explicit SqliteJobStore(JobStoreOptions opt);
  ~SqliteJobStore() override;  // commits what is queued, then closes the writer

  InsertResult insert(const NewJob& job, int64_t now_ms) override;
  std::optional<Job> get(std::string_view uuid, std::string_view owner) override;
  std::optional<Job> get_any(std::string_view uuid) override;
  std::optional<Job> get_by_seq(int64_t seq) override;
  using JobStore::list;
  Page list(const JobQuery& q) override;
  CancelResult cancel(std::string_view uuid, std::string_view owner, int64_t now_ms) override;
  std::vector<std::pair<int64_t, int64_t>> pending_jobs() override;
  std::vector<ClaimedJob> claim(const std::vector<int64_t>& seqs, int64_t now_ms) override;
  std::vector<ClaimedJob> claim_next(size_t limit, int64_t now_ms) override;
  void finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms) override;
  Recovery recover(int64_t now_ms) override;
  size_t purge_finished(int64_t before_ms, size_t batch) override;

  JobWaiters::Token watch_finish(int64_t seq) override { return waiters_.expect(seq); }
  bool wait_finished(const JobWaiters::Token& w, std::chrono::milliseconds timeout) override {
    return waiters_.wait(w, timeout);
  }
  void close_waits() override { waiters_.close(); }

  size_t unfinished() const override { return unfinished_.load(std::memory_order_relaxed); }
  size_t queue_max() const override { return opt_.queue_max; }
  int max_attempts() const override { return opt_.max_attempts; }
  std::string failure(int64_t now_ms) const override { return writer_->failure(now_ms); }
  void mark_corrupt(const std::string& problem) override { writer_->mark_corrupt(problem); }
  uint64_t commits() const override { return writer_->commits(); }
  uint64_t committed_ops() const override { return writer_->committed_ops(); }
  const CursorKey& cursor_key() const override { return cursor_key_; }

  // The file's writer, shared with the limiter's saved state (one writer
  // per file). False after the last commit failed, until one succeeds.
  SqliteWriter& writer() { return *writer_; }
  bool writable() const { return writer_->writable(); }

 private:
  class ReaderLease;
  ReaderLease reader();
  // The one job `sql` finds on a reader, with its parameters bound by bind(st).
  template <class Bind>
  std::optional<Job> read_one(const char* sql, Bind&& bind);

  JobStoreOptions opt_;
  std::atomic<size_t> unfinished_{0};
  CursorKey cursor_key_{};
  JobWaiters waiters_;

  std::mutex readers_mu_;  // guards readers_
  std::vector<std::unique_ptr<CachedDb>> readers_;  // idle read connections

  std::unique_ptr<SqliteWriter> writer_;  // last: stops before the rest goes
};

}  // namespace mlgate
