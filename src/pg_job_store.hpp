// pg_job_store.hpp: the JobStore (job_store.hpp) on PostgreSQL, shared by
// every mlgate instance pointed at the same database.
//
// Beyond the interface's contract:
// - insert() goes through one inserter thread: the inserts waiting when it
//   is free become one transaction (an advisory lock, the unfinished count
//   against the bound, one multi-row INSERT, a NOTIFY), so concurrent POSTs
//   share a commit, and the bound and Idempotency-Key hold across instances.
// - Every instance claims with FOR UPDATE SKIP LOCKED. A claimed job holds a
//   lease: this instance's id and a deadline on the database's clock, which
//   a keeper thread renews every second. A job whose lease ran out (its
//   instance died or hung) is made pending again by whichever instance
//   looks first (recover(), which the keeper runs every second), or failed
//   when it has used all its attempts. finish() records an outcome only
//   while the job is still running under this instance's lease and at the
//   attempt the outcome is for: an instance that wakes after losing its
//   lease records nothing.
// - Instances hear of each other through LISTEN/NOTIFY (pg_listener.hpp):
//   new jobs wake idle workers everywhere, finished jobs wake `Prefer: wait`
//   on every instance, a cancel reaches the instance running the job.
// - The database down: every call throws StorageUnavailable within the
//   query timeout, failure() says why, and the next call that reaches the
//   database again succeeds (connections are made anew).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "job_store.hpp"
#include "pg_conn.hpp"

namespace mlgate {

class PgListener;

struct PgJobStoreOptions {
  PgOptions pg;
  size_t queue_max = 10000;
  int max_attempts = 3;
  int64_t lease_ms = 15000;  // a dead instance's jobs are taken over after this
  size_t pool_size = 8;      // connections for requests and workers
  // false (the admin CLI): no listener, no lease keeper.
  bool serve = true;
};

class PgJobStore final : public JobStore {
 public:
  // Connects and migrates the schema (PgSchemaTooNew, StorageUnavailable).
  explicit PgJobStore(PgJobStoreOptions opt);
  ~PgJobStore() override;

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

  size_t unfinished() const override;
  size_t queue_max() const override { return opt_.queue_max; }
  int max_attempts() const override { return opt_.max_attempts; }
  std::string failure(int64_t now_ms) const override;
  void mark_corrupt(const std::string& problem) override;
  uint64_t commits() const override { return commits_.load(std::memory_order_relaxed); }
  uint64_t committed_ops() const override { return committed_ops_.load(std::memory_order_relaxed); }
  const CursorKey& cursor_key() const override { return cursor_key_; }

  bool shared() const override { return true; }
  void set_events(JobStoreEvents ev) override;

 private:
  // Renews this instance's leases (the keeper, every second).
  void heartbeat();
  struct PendingInsert {
    NewJob job;
    int64_t now_ms;
    // The result, or why the batch failed. An error travels as text and is
    // thrown by the waiting thread itself: an exception object shared
    // between threads through exception_ptr is freed by whichever drops it
    // last, which ThreadSanitizer cannot follow into libstdc++.
    std::promise<std::pair<InsertResult, std::string>> done;
  };
  // Runs fn(conn) on a pooled connection; records the database's health.
  template <class F>
  auto with_conn(F&& fn) const;
  template <class F>
  auto with_tx(F&& fn) const;
  void note_ok() const;
  void note_failure(const std::string& why) const;
  void inserter_loop(std::stop_token st);
  void insert_batch(std::vector<std::unique_ptr<PendingInsert>>& batch);
  void keeper_loop(std::stop_token st);
  void on_notify(const std::string& channel, const std::string& payload);
  void announce_jobs() const;
  void announce_cancel(int64_t seq) const;

  PgJobStoreOptions opt_;
  std::string instance_;  // this instance's id in lease_owner (random per start)
  mutable PgPool pool_;
  CursorKey cursor_key_{};
  JobWaiters waiters_;
  std::atomic<uint64_t> commits_{0}, committed_ops_{0};
  mutable std::atomic<size_t> unfinished_seen_{0};

  mutable std::mutex health_mu_;  // guards failure_, corrupt_
  mutable std::string failure_;
  std::string corrupt_;

  mutable std::mutex events_mu_;  // guards events_, held while one runs
  JobStoreEvents events_;

  std::mutex insert_mu_;  // guards inserts_
  std::condition_variable_any insert_cv_;
  std::deque<std::unique_ptr<PendingInsert>> inserts_;

  std::unique_ptr<PgListener> listener_;
  std::jthread inserter_, keeper_;  // last: stopped first
};

}  // namespace mlgate
