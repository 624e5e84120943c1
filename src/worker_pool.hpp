// worker_pool.hpp: std::jthread workers that run the model on stored jobs.
//
// Contract:
// - Workers take ready jobs from an in-memory queue of job sequence numbers
//   (bounded, since the store bounds unfinished jobs), claim them in the store
//   in batches (one commit marks many running), run the model, and record
//   each outcome (one commit per batch).
// - A failed attempt is retried with exponential backoff until the store's
//   max_attempts, then the job is `failed` with the model's error.
// - cancel(seq) asks the running job's model to stop through its stop_token.
// - stop(grace): no new job starts; running jobs get `grace` to finish, then
//   their stop_token is requested; jobs left unrun stay `pending` on disk.
// - Nothing is swallowed: every exception a worker catches (storage refusing
//   a claim or an outcome, a model failing) is logged once, with the jobs it
//   concerns, and counted in errors().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

#include "job_store.hpp"
#include "model.hpp"

namespace mlgate {

struct WorkerOptions {
  int workers = 2;
  size_t batch = 32;                 // jobs claimed per commit
  int64_t retry_base_ms = 500;       // first retry delay; doubles per attempt
  int64_t retry_max_ms = 60'000;
  // A store shared with other instances (JobStore::shared()): idle workers
  // also claim_next() when poked (another instance's jobs, a lease taken
  // over) and, as a safety net for a lost notification, once a second.
  bool shared = false;
};

class WorkerPool {
 public:
  WorkerPool(JobStore& store, Model& model, WorkerOptions opt);
  ~WorkerPool();  // stop(0)

  // Queues every pending job on disk, oldest first, then starts the workers.
  void start();
  // A newly stored job. Never blocks on the model.
  void submit(int64_t seq);
  // Asks a running job's model to stop; false if it is not running here.
  bool cancel(int64_t seq);
  // Shared store: jobs may be waiting that no submit() announced; an idle
  // worker claims them with claim_next(). Never blocks.
  void poke();
  void stop(std::chrono::milliseconds grace);

  // Called with each job's seq once an attempt's outcome is committed;
  // `finished` is true only when that outcome is terminal (completed or
  // failed), false for a retry scheduled or an attempt cut short by a stop.
  void set_on_recorded(std::function<void(int64_t seq, bool finished)> fn) {
    on_recorded_ = std::move(fn);
  }

  struct Errors {  // exceptions caught, by where
    uint64_t claim = 0, model = 0, record = 0;
  };
  Errors errors() const;

  size_t queued() const;
  size_t running() const;
  // Monotonic ns since the oldest running batch started, 0 when idle.
  int64_t oldest_running_ns() const;

 private:
  void worker_loop(std::stop_token st);
  struct Take {
    std::vector<int64_t> seqs;  // jobs submitted here, to claim by seq
    bool next = false;          // or: claim whatever is next in the store
  };
  Take take_batch(std::stop_token st);
  std::vector<ClaimedJob> claim(const Take& t);
  std::vector<JobOutcome> run_batch(const std::vector<ClaimedJob>& jobs);
  JobOutcome run_one(const ClaimedJob& job);
  void schedule_retries(const std::vector<JobOutcome>& outcomes);
  bool record(const std::vector<JobOutcome>& outcomes, std::stop_token st);

  JobStore& store_;
  Model& model_;
  WorkerOptions opt_;
  std::function<void(int64_t, bool)> on_recorded_;
  std::atomic<uint64_t> claim_errors_{0}, model_errors_{0}, record_errors_{0};

  mutable std::mutex mu_;          // guards every member below
  std::condition_variable_any cv_;
  std::deque<int64_t> ready_;
  std::multimap<int64_t, int64_t> delayed_;  // due, monotonic ns -> seq
  std::unordered_map<int64_t, std::stop_source> running_;  // seq -> its stop
  std::unordered_map<std::thread::id, int64_t> batch_started_;  // mono ns
  bool stopping_ = false;
  bool poked_ = false;  // shared: claim_next() before sleeping again
  int claim_failures_ = 0;  // in a row: the next claim waits 1 s << this

  std::vector<std::jthread> threads_;
};

}  // namespace mlgate
