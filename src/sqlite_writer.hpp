// sqlite_writer.hpp: the one writer of an SQLite data file, with group
// commit, and the file's health as /health reports it. Used by the SQLite
// job store (sqlite_job_store.hpp) and by the limiter's saved state, which
// share the file; nothing outside the SQLite implementations sees it.
//
// Contract:
// - run(fn) returns only after fn's writes are committed with
//   synchronous=FULL in WAL mode. Concurrent calls share one commit: a
//   single writer thread owns the write connection and commits every
//   operation that arrived while the previous commit was on its way to disk.
//   An idle writer commits a lone operation at once; no timer adds latency.
// - fn's own error (a constraint, a logic error) fails only its call and is
//   rethrown there; a storage error (disk full, I/O error) rolls the whole
//   batch back and every call in it throws StorageUnavailable. The writer
//   keeps running and recovers when the storage does.
// - After each commit, and once a second when idle, the writer checks that
//   the database, its -wal and its -shm are still the files at their paths.
//   When one was deleted or replaced, every later write is refused (until a
//   restart: SQLite would go on writing to the unlinked file). If the main
//   file is intact, the WAL's commits are first copied into it
//   (checkpoint), so nothing already committed is lost with a deleted WAL.
//   A batch whose commit may have gone to a lost file is reported failed.
// - failure() says why storage is failing: such a fault, a file found
//   corrupt (until a restart), the last commit failed, or a read failed in
//   the last 30 s (read_failed()).
// - Thread-safe: every public member may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "db.hpp"
#include "db_file.hpp"
#include "job_store.hpp"  // StorageUnavailable

namespace mlgate {

class SqliteWriter {
 public:
  // Opens (creating) the file and runs `setup` on the write connection
  // before the writer thread starts (migrations, first reads). Throws
  // DbError, or what setup throws.
  SqliteWriter(std::string path, const std::function<void(Db&)>& setup,
               bool checkpoint_at_close = true);
  ~SqliteWriter();  // commits what is queued, checkpoints (if asked), then closes
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;

  // Runs fn on the writer thread inside the batch's transaction (see above).
  void run(const std::function<void(CachedDb&)>& fn);

  const std::string& path() const { return path_; }
  // Commits and operations committed since start (mean batch = ops/commits).
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t committed_ops() const { return ops_.load(std::memory_order_relaxed); }
  // False after the last commit failed, until one succeeds.
  bool writable() const { return writable_.load(std::memory_order_relaxed); }
  // Why storage is failing at `now_ms`, or "" when it is not.
  std::string failure(int64_t now_ms) const;
  // An integrity check found `problem`: failure() reports it until a restart.
  void mark_corrupt(const std::string& problem);
  // A read on another connection of this file failed: recorded for
  // failure(), then thrown as StorageUnavailable.
  [[noreturn]] void read_failed(const DbError& e);

 private:
  struct WriteOp;
  void submit(WriteOp& op);
  void writer_loop(std::stop_token st);
  void commit_batch(std::vector<WriteOp*>& batch);
  void note_write_failure(const std::exception& e);
  // Writer thread: the files still at their paths? Sets fault_ if not;
  // false when a batch just committed cannot be trusted to be on disk.
  bool check_files();

  std::string path_;
  bool checkpoint_at_close_;
  std::atomic<uint64_t> commits_{0}, ops_{0};
  std::atomic<bool> writable_{true};

  // What failure() reports. The atomics let a healthy /health skip the lock.
  static constexpr int64_t kReadFailureWindowMs = 30'000;
  std::atomic<bool> faulted_{false};           // a file deleted or replaced: writes refused
  std::atomic<bool> corrupt_{false};
  std::atomic<int64_t> read_failed_at_ms_{0};  // 0: no read has failed
  mutable std::mutex status_mu_;               // guards the four reasons
  std::string fault_, corrupt_reason_, read_reason_, write_reason_;
  std::optional<FileWatch> watch_;             // used by the writer thread only

  std::unique_ptr<CachedDb> db_;  // owned by the writer thread after start

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

  std::jthread thread_;  // last member: stops and joins before the rest goes
};

}  // namespace mlgate
