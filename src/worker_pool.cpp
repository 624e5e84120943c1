#include "worker_pool.hpp"

#include <algorithm>

#include "clock.hpp"
#include "log.hpp"
#include "thread_name.hpp"

namespace mlgate {
namespace {

JobOutcome outcome(JobOutcome::Kind kind, const ClaimedJob& job) {
  JobOutcome o;
  o.kind = kind;
  o.seq = job.seq;
  o.uuid = job.uuid;
  o.attempt = job.attempts;  // the fencing token of a shared store
  return o;
}

// When a retry stored as wall time (`run_after`, on disk so it outlives a
// restart) is due, on the monotonic clock the queue waits on. The wait is
// at most the longest backoff: a wall clock stepped back an hour (or a
// device that booted in 1970) must not hold a retry for that hour.
int64_t due_mono_ns(int64_t run_after_ms, int64_t max_delay_ms) {
  const int64_t left_ms = std::clamp<int64_t>(run_after_ms - wall_ms(), 0, max_delay_ms + 1);
  return mono_ns() + left_ms * 1'000'000;
}

const char* kind_name(JobOutcome::Kind k) {
  switch (k) {
    case JobOutcome::Completed: return "completed";
    case JobOutcome::Failed: return "failed";
    case JobOutcome::Retry: return "retry";
    case JobOutcome::Interrupted: return "interrupted";
  }
  return "?";
}

}  // namespace

WorkerPool::WorkerPool(JobStore& store, Model& model, WorkerOptions opt)
    : store_(store), model_(model), opt_(opt) {}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

void WorkerPool::start() {
  if (opt_.shared) {
    // Every instance's pending jobs are everyone's: claimed as they come.
    poke();
  } else {
    std::lock_guard lock(mu_);
    for (auto [seq, run_after] : store_.pending_jobs()) {
      if (run_after > 0) delayed_.emplace(due_mono_ns(run_after, opt_.retry_max_ms), seq);
      else ready_.push_back(seq);
    }
  }
  for (int i = 0; i < std::max(1, opt_.workers); ++i)
    threads_.emplace_back([this](std::stop_token st) {
      set_thread_name("mlg-worker");
      worker_loop(st);
    });
}

void WorkerPool::submit(int64_t seq) {
  {
    std::lock_guard lock(mu_);
    ready_.push_back(seq);
  }
  cv_.notify_one();
}

void WorkerPool::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

bool WorkerPool::cancel(int64_t seq) {
  std::lock_guard lock(mu_);
  auto it = running_.find(seq);
  if (it == running_.end()) return false;
  it->second.request_stop();
  return true;
}

void WorkerPool::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mu_);
    if (threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  // Running jobs have `grace` to finish; then their models are asked to stop.
  auto deadline = std::chrono::steady_clock::now() + grace;
  {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return running_.empty(); });
    for (auto& [seq, src] : running_) src.request_stop();
  }
  for (auto& t : threads_) t.request_stop();
  cv_.notify_all();
  threads_.clear();  // joins
}

WorkerPool::Errors WorkerPool::errors() const {
  return {claim_errors_.load(std::memory_order_relaxed), model_errors_.load(std::memory_order_relaxed),
          record_errors_.load(std::memory_order_relaxed)};
}

size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return ready_.size() + delayed_.size();
}

size_t WorkerPool::running() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

int64_t WorkerPool::oldest_running_ns() const {
  std::lock_guard lock(mu_);
  int64_t oldest = 0;
  for (auto& [id, t] : batch_started_)
    if (oldest == 0 || t < oldest) oldest = t;
  return oldest ? mono_ns() - oldest : 0;
}

// Moves due retries to the ready queue and takes up to `batch` jobs. Waits
// until there is work, the next retry is due, or the pool stops; with a
// shared store also until poked, and at most a second (the safety net).
WorkerPool::Take WorkerPool::take_batch(std::stop_token st) {
  std::unique_lock lock(mu_);
  const auto ready = [&] { return stopping_ || !ready_.empty() || poked_; };
  for (;;) {
    if (stopping_ || st.stop_requested()) return {};
    int64_t now = mono_ns();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      ready_.push_back(delayed_.begin()->second);
      delayed_.erase(delayed_.begin());
    }
    if (!ready_.empty()) break;
    if (poked_) {
      poked_ = false;
      return {{}, true};
    }
    auto wait = std::chrono::nanoseconds(delayed_.empty() ? INT64_MAX : delayed_.begin()->first - now);
    if (opt_.shared) wait = std::min<std::chrono::nanoseconds>(wait, std::chrono::seconds(1));
    if (wait == std::chrono::nanoseconds(INT64_MAX)) {
      cv_.wait(lock, st, ready);
    } else if (!cv_.wait_for(lock, st, wait, ready) && opt_.shared) {
      return {{}, true};  // a quiet second: look in the store anyway
    }
  }
  size_t n = std::min(opt_.batch, ready_.size());
  std::vector<int64_t> out(ready_.begin(), ready_.begin() + static_cast<long>(n));
  ready_.erase(ready_.begin(), ready_.begin() + static_cast<long>(n));
  return {std::move(out), false};
}

std::vector<ClaimedJob> WorkerPool::claim(const Take& t) {
  if (!t.next) return store_.claim(t.seqs, wall_ms());
  auto jobs = store_.claim_next(opt_.batch, wall_ms());
  // A full batch: more may be waiting; another idle worker looks too.
  if (jobs.size() == opt_.batch) poke();
  return jobs;
}

void WorkerPool::worker_loop(std::stop_token st) {
  while (!st.stop_requested()) {
    Take take = take_batch(st);
    if (take.seqs.empty() && !take.next) continue;
    const std::vector<int64_t>& seqs = take.seqs;
    std::vector<ClaimedJob> jobs;
    try {
      jobs = claim(take);
      std::lock_guard lock(mu_);
      claim_failures_ = 0;
    } catch (const std::exception& e) {
      // Storage failing: the jobs stay pending on disk; try again later,
      // waiting longer while it keeps failing (1 s, 2 s, ... 32 s).
      claim_errors_.fetch_add(1, std::memory_order_relaxed);
      int64_t delay_ms;
      bool first;
      {
        std::lock_guard lock(mu_);
        first = claim_failures_ == 0;
        delay_ms = 1000LL << std::min(claim_failures_++, 5);
        for (int64_t s : seqs) delayed_.emplace(mono_ns() + delay_ms * 1'000'000, s);
      }
      // Not yet claimed, so only their sequence numbers are known here. A
      // shared store's periodic look logs the first failure of a run only
      // (a database down for an hour is one line, not one a second).
      if (!take.next || first)
        Log::instance().warn("worker: claiming jobs failed; they stay pending",
                             {{"job_seqs", seqs}, {"error", e.what()}, {"retry_in_ms", delay_ms}});
      // The workers pause while the store fails: the next look waits.
      // At most 2 s, so that service resumes soon after the database does.
      if (take.next) sleep_for(st, std::chrono::milliseconds(std::min<int64_t>(delay_ms, 2000)));
      continue;
    }
    std::vector<JobOutcome> outcomes = run_batch(jobs);
    if (!record(outcomes, st)) continue;
    schedule_retries(outcomes);
    if (on_recorded_)
      for (auto& o : outcomes)
        on_recorded_(o.seq, o.kind == JobOutcome::Completed || o.kind == JobOutcome::Failed);
  }
}

// Storage failing when outcomes are ready: keep them and try again with
// backoff rather than drop them, which would leave the jobs `running` (and
// holding places in the bound) until the next start. Gives up only when the
// pool is stopped; the jobs then stay `running` on disk and the next start
// puts them back to pending. Nothing reached a client as finished meanwhile.
bool WorkerPool::record(const std::vector<JobOutcome>& outcomes, std::stop_token st) {
  auto delay = std::chrono::milliseconds(10);
  for (;;) {
    try {
      store_.finish(outcomes, wall_ms());
      return true;
    } catch (const std::exception& e) {
      record_errors_.fetch_add(1, std::memory_order_relaxed);
      nlohmann::json jobs = nlohmann::json::array();
      for (const auto& o : outcomes) jobs.push_back({{"job", o.uuid}, {"outcome", kind_name(o.kind)}});
      Log::instance().warn("worker: recording outcomes failed; trying again",
                           {{"jobs", std::move(jobs)}, {"error", e.what()},
                            {"retry_in_ms", delay.count()}});
    }
    // Not on cv_: this wait would take submit()'s notify_one from an idle
    // worker. Wakes early only for the thread's own stop (end of the grace).
    if (!sleep_for(st, delay)) return false;
    delay = std::min(delay * 2, std::chrono::milliseconds(1000));
  }
}

std::vector<JobOutcome> WorkerPool::run_batch(const std::vector<ClaimedJob>& jobs) {
  std::vector<JobOutcome> out;
  out.reserve(jobs.size());
  {
    std::lock_guard lock(mu_);
    batch_started_[std::this_thread::get_id()] = mono_ns();
  }
  for (const ClaimedJob& job : jobs) out.push_back(run_one(job));
  {
    std::lock_guard lock(mu_);
    batch_started_.erase(std::this_thread::get_id());
  }
  cv_.notify_all();  // stop() waits for running_ to drain
  return out;
}

JobOutcome WorkerPool::run_one(const ClaimedJob& job) {
  std::stop_source src;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return outcome(JobOutcome::Interrupted, job);
    running_.emplace(job.seq, src);
  }
  JobOutcome o = outcome(JobOutcome::Completed, job);
  try {
    Prediction p = model_.predict(job.input, src.get_token());
    o.label = std::move(p.label);
    o.score = p.score;
    o.detail_json = p.detail.dump();
  } catch (const std::exception& e) {
    o.error = e.what();
    o.kind = JobOutcome::Failed;
  } catch (...) {
    // A model is a plug-in: whatever it throws fails the attempt, never
    // the worker thread (an escaping exception would end the process).
    o.error = "model error: unknown exception";
    o.kind = JobOutcome::Failed;
  }
  bool stopping;
  {
    std::lock_guard lock(mu_);
    running_.erase(job.seq);
    stopping = stopping_;
  }
  if (o.kind == JobOutcome::Failed) {
    if (stopping && src.stop_requested()) {
      o.kind = JobOutcome::Interrupted;  // shutdown, not the job's fault
    } else if (job.attempts < store_.max_attempts()) {
      o.kind = JobOutcome::Retry;
      int64_t delay = opt_.retry_base_ms << std::min(job.attempts - 1, 16);
      // + 1: wall_ms() rounds down, so without it a retry could start up to
      // a millisecond before its backoff had passed (a unit test saw it).
      o.run_after_ms = wall_ms() + 1 + std::min(delay, opt_.retry_max_ms);
    }
    model_errors_.fetch_add(1, std::memory_order_relaxed);
    // The model's message (never the job's text, which mlgate does not log;
    // a plug-in that echoes its input into errors is its author's choice).
    Log::instance().warn("worker: model failed an attempt",
                         {{"job", job.uuid}, {"attempt", job.attempts}, {"error", o.error},
                          {"outcome", kind_name(o.kind)}});
  }
  return o;
}

void WorkerPool::schedule_retries(const std::vector<JobOutcome>& outcomes) {
  std::lock_guard lock(mu_);
  for (auto& o : outcomes)
    if (o.kind == JobOutcome::Retry) delayed_.emplace(due_mono_ns(o.run_after_ms, opt_.retry_max_ms), o.seq);
}

}  // namespace mlgate
