#include "pg_job_store.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "api_key.hpp"  // random_bytes
#include "clock.hpp"
#include "hex.hpp"
#include "log.hpp"
#include "pg_listener.hpp"
#include "pg_schema.hpp"
#include "thread_name.hpp"

namespace mlgate {
namespace {

// Serialises inserts across instances, so that the unfinished count read
// in an insert's transaction is the one its bound is checked against. The
// function mlgate_insert_jobs (pg_schema.cpp, version 2) takes the same
// number: the two must stay equal.
constexpr const char* kInsertLock = "SELECT pg_advisory_xact_lock(120325850931558)";
// Taken with try-lock by purge: one instance purges, the others skip.
constexpr const char* kPurgeLock = "SELECT pg_try_advisory_xact_lock(120325850931559)";

#define JOB_COLS                                                                          \
  "seq, uuid, owner, key_id, status, input, attempts, result_label, result_score, result, " \
  "error, created_at, started_at, finished_at"

Job read_job(const PgResult& r, int row) {
  Job j;
  j.seq = r.i64(row, 0);
  j.uuid = r.str(row, 1);
  j.owner = r.str(row, 2);
  j.key_id = r.str(row, 3);
  j.status = parse_job_status(r.str(row, 4)).value_or(JobStatus::Failed);
  j.input = r.str(row, 5);
  j.attempts = static_cast<int>(r.i64(row, 6));
  j.result_label = r.opt_str(row, 7);
  if (!r.null(row, 8)) j.result_score = r.f64(row, 8);
  j.result = r.opt_str(row, 9);
  j.error = r.opt_str(row, 10);
  j.created_at = r.i64(row, 11);
  j.started_at = r.opt_i64(row, 12);
  j.finished_at = r.opt_i64(row, 13);
  return j;
}

std::optional<Job> one_job(const PgResult& r) {
  if (r.rows() == 0) return std::nullopt;
  return read_job(r, 0);
}

// "12,13,20" (a mlgate_done payload: the jobs one batch finished) -> seqs.
std::vector<int64_t> seq_list(const std::string& text) {
  std::vector<int64_t> out;
  for (const char* p = text.c_str(); *p;) {
    char* end = nullptr;
    const long long v = std::strtoll(p, &end, 10);
    if (end == p) break;  // not a number: nothing more to read
    out.push_back(v);
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

// Every digit of a double (std::to_string keeps six decimals: an exec
// model's 1e-9 would be stored as 0).
std::string float_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<ClaimedJob> read_claimed(const PgResult& r) {
  std::vector<ClaimedJob> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.i64(i, 0), r.str(i, 1), r.str(i, 2), static_cast<int>(r.i64(i, 3))});
  // RETURNING gives rows in no promised order.
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  return out;
}

std::string new_instance_id() {
  uint64_t r;
  random_bytes(&r, sizeof r);
  return to_hex(&r, sizeof r);
}

}  // namespace

PgJobStore::PgJobStore(PgJobStoreOptions opt)
    : opt_(std::move(opt)), instance_(new_instance_id()), pool_(opt_.pg, opt_.pool_size) {
  {
    auto c = pool_.take();
    pg_migrate(*c);
    cursor_key_ = pg_database_secret(*c, "cursor_key");
  }
  inserter_ = std::jthread([this](std::stop_token st) {
    set_thread_name("mlg-pg-insert");
    inserter_loop(st);
  });
  if (opt_.serve) {
    listener_ = std::make_unique<PgListener>(
        opt_.pg, std::vector<std::string>{"mlgate_jobs", "mlgate_done", "mlgate_cancel"},
        [this](const std::string& ch, const std::string& payload) { on_notify(ch, payload); },
        [this] {
          // Notifications sent while we were not listening are lost: look.
          announce_jobs();
        });
    keeper_ = std::jthread([this](std::stop_token st) {
      set_thread_name("mlg-pg-lease");
      keeper_loop(st);
    });
  }
}

PgJobStore::~PgJobStore() {
  keeper_ = {};
  listener_.reset();
  inserter_.request_stop();
  insert_cv_.notify_all();
  inserter_ = {};
  // Inserts still queued (none, unless the inserter died): refused.
  for (auto& p : inserts_)
    p->done.set_value({InsertResult{InsertOutcome::QueueFull, {}}, "store closed"});
}

// ---- health

void PgJobStore::note_ok() const {
  std::lock_guard lock(health_mu_);
  failure_.clear();
}

void PgJobStore::note_failure(const std::string& why) const {
  std::lock_guard lock(health_mu_);
  if (failure_.empty())
    Log::instance().warn("postgres: database unavailable", {{"error", why}});
  failure_ = why;
}

std::string PgJobStore::failure(int64_t) const {
  std::lock_guard lock(health_mu_);
  return !corrupt_.empty() ? corrupt_ : failure_;
}

void PgJobStore::mark_corrupt(const std::string& problem) {
  std::lock_guard lock(health_mu_);
  corrupt_ = problem;
}

template <class F>
auto PgJobStore::with_conn(F&& fn) const {
  try {
    auto c = pool_.take();
    if constexpr (std::is_void_v<decltype(fn(*c))>) {
      fn(*c);
      note_ok();
    } else {
      auto r = fn(*c);
      note_ok();
      return r;
    }
  } catch (const StorageUnavailable& e) {
    note_failure(e.what());
    throw;
  } catch (const PgError& e) {
    // An SQL error from a server that answers: the schema is not what this
    // binary expects (tables dropped, changed by hand); see throw_unavailable.
    note_failure(e.what());
    throw_unavailable(e);
  }
}

template <class F>
auto PgJobStore::with_tx(F&& fn) const {
  return with_conn([&](PgConn& c) { return pg_transaction(c, fn); });
}

// ---- events

void PgJobStore::set_events(JobStoreEvents ev) {
  std::lock_guard lock(events_mu_);
  events_ = std::move(ev);
}

// Called under the lock, so that once set_events() returns (the server
// clears them before its worker pool goes) no callback is still running.
// The callbacks only queue work and return.
void PgJobStore::announce_jobs() const {
  std::lock_guard lock(events_mu_);
  if (events_.jobs_available) events_.jobs_available();
}

void PgJobStore::announce_cancel(int64_t seq) const {
  std::lock_guard lock(events_mu_);
  if (events_.cancel_requested) events_.cancel_requested(seq);
}

void PgJobStore::on_notify(const std::string& channel, const std::string& payload) {
  if (channel == "mlgate_jobs") {
    // Our own inserts are submitted to our workers directly.
    if (payload == instance_) return;
    announce_jobs();
  } else if (channel == "mlgate_done") {
    for (int64_t seq : seq_list(payload)) waiters_.notify(seq);
  } else if (channel == "mlgate_cancel") {
    announce_cancel(std::strtoll(payload.c_str(), nullptr, 10));
  }
}

// ---- inserts: group commit

InsertResult PgJobStore::insert(const NewJob& job, int64_t now_ms) {
  auto p = std::make_unique<PendingInsert>(PendingInsert{job, now_ms, {}});
  auto fut = p->done.get_future();
  {
    std::lock_guard lock(insert_mu_);
    inserts_.push_back(std::move(p));
  }
  insert_cv_.notify_one();
  auto [result, error] = fut.get();
  if (!error.empty()) throw StorageUnavailable(error);
  return result;
}

void PgJobStore::inserter_loop(std::stop_token st) {
  for (;;) {
    std::vector<std::unique_ptr<PendingInsert>> batch;
    {
      std::unique_lock lock(insert_mu_);
      insert_cv_.wait(lock, st, [&] { return !inserts_.empty(); });
      if (inserts_.empty()) return;  // stopping
      // Everything waiting, up to a statement of sensible size.
      while (!inserts_.empty() && batch.size() < 256) {
        batch.push_back(std::move(inserts_.front()));
        inserts_.pop_front();
      }
    }
    std::string failed;
    try {
      insert_batch(batch);
      continue;
    } catch (const std::exception& e) {
      failed = e.what();
    } catch (...) {
      failed = "PostgreSQL: insert failed";
    }
    for (auto& p : batch) {
      try {
        p->done.set_value({InsertResult{InsertOutcome::QueueFull, {}}, failed});
      } catch (const std::future_error&) {
        // already answered before the failure
      }
    }
  }
}

void PgJobStore::insert_batch(std::vector<std::unique_ptr<PendingInsert>>& batch) {
  std::vector<InsertResult> results(batch.size(), InsertResult{InsertOutcome::Created, {}});
  size_t created = 0;
  const bool any_idempotency = std::any_of(batch.begin(), batch.end(),
                                           [](const auto& p) { return p->job.idempotency_key.has_value(); });
  if (!any_idempotency) {
    // The common batch: one statement (schema version 2's function) takes
    // the insert lock, checks the bound, inserts what fits and wakes the
    // other instances; its implicit transaction has committed when it returns.
    std::vector<PgParam> uuid, owner, key_id, input, created_at;
    for (size_t i = 0; i < batch.size(); ++i) {
      Job& j = results[i].job;
      j.uuid = new_job_uuid(batch[i]->now_ms);
      j.owner = batch[i]->job.owner;
      j.key_id = batch[i]->job.key_id;
      j.status = JobStatus::Pending;
      j.created_at = batch[i]->now_ms;
      uuid.push_back(j.uuid);
      owner.push_back(j.owner);
      key_id.push_back(j.key_id);
      input.push_back(batch[i]->job.input);
      created_at.push_back(std::to_string(j.created_at));
    }
    std::map<std::string, int64_t> seq_of;
    with_conn([&](PgConn& c) {
      PgResult r = c.exec_prepared(
          "SELECT job_uuid, job_seq FROM mlgate_insert_jobs($1, $2, $3, $4, $5, $6, $7)",
          {pg_array(uuid), pg_array(owner), pg_array(key_id), pg_array(input), pg_array(created_at),
           std::to_string(opt_.queue_max), instance_});
      for (int k = 0; k < r.rows(); ++k) seq_of[r.str(k, 0)] = r.i64(k, 1);
    });
    for (auto& res : results) {
      auto it = seq_of.find(res.job.uuid);
      if (it == seq_of.end()) {
        res = {InsertOutcome::QueueFull, {}};
      } else {
        res.job.seq = it->second;
        ++created;
      }
    }
    commits_.fetch_add(1, std::memory_order_relaxed);
    committed_ops_.fetch_add(created, std::memory_order_relaxed);
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value({std::move(results[i]), ""});
    return;
  }
  // A batch with Idempotency-Keys: their earlier jobs are looked up under
  // the insert lock, in one transaction with the insert.
  with_tx([&](PgConn& c) {
    created = 0;
    c.exec(kInsertLock);
    PgResult n = c.exec(
        "SELECT count(*) FROM (SELECT 1 FROM mlgate_jobs WHERE status IN ('pending','running') "
        "LIMIT $1) t",
        {std::to_string(opt_.queue_max)});
    size_t room = opt_.queue_max - std::min<size_t>(opt_.queue_max, static_cast<size_t>(n.i64(0, 0)));
    // Idempotency keys seen earlier in this batch: (owner, key) -> index.
    std::map<std::pair<std::string, std::string>, size_t> in_batch;
    std::vector<size_t> rows;  // indexes of the requests to insert
    for (size_t i = 0; i < batch.size(); ++i) {
      const NewJob& nj = batch[i]->job;
      InsertResult& res = results[i];
      res = {InsertOutcome::Created, {}};
      if (nj.idempotency_key) {
        auto k = std::make_pair(nj.owner, *nj.idempotency_key);
        auto it = in_batch.find(k);
        if (it != in_batch.end()) {
          const NewJob& first = batch[it->second]->job;
          res.outcome = first.request_hash == nj.request_hash ? InsertOutcome::Replayed
                                                              : InsertOutcome::Conflict;
          res.job.seq = -static_cast<int64_t>(it->second) - 1;  // filled in below
          continue;
        }
        PgResult prev = c.exec("SELECT " JOB_COLS ", request_hash FROM mlgate_jobs "
                               "WHERE owner = $1 AND idempotency_key = $2",
                               {nj.owner, *nj.idempotency_key});
        if (prev.rows() > 0) {
          res.job = read_job(prev, 0);
          const bool same = prev.str(0, 14) == to_hex(nj.request_hash.data(), nj.request_hash.size());
          res.outcome = same ? InsertOutcome::Replayed : InsertOutcome::Conflict;
          continue;
        }
      }
      if (room == 0) {
        res.outcome = InsertOutcome::QueueFull;
        continue;
      }
      --room;
      if (nj.idempotency_key) in_batch[{nj.owner, *nj.idempotency_key}] = i;
      Job& j = res.job;
      j.uuid = new_job_uuid(batch[i]->now_ms);
      j.owner = nj.owner;
      j.key_id = nj.key_id;
      j.status = JobStatus::Pending;
      j.created_at = batch[i]->now_ms;
      rows.push_back(i);
    }
    if (!rows.empty()) {
      std::string sql =
          "INSERT INTO mlgate_jobs (uuid, owner, key_id, status, input, idempotency_key, "
          "request_hash, created_at) VALUES ";
      std::vector<PgParam> params;
      for (size_t r = 0; r < rows.size(); ++r) {
        const size_t i = rows[r];
        const NewJob& nj = batch[i]->job;
        const size_t b = params.size();
        sql += (r ? ",(" : "(");
        for (int k = 1; k <= 7; ++k) {
          if (k == 4) sql += "'pending',";
          sql += "$" + std::to_string(b + static_cast<size_t>(k)) + (k < 7 ? "," : ")");
        }
        params.push_back(results[i].job.uuid);
        params.push_back(nj.owner);
        params.push_back(nj.key_id);
        params.push_back(nj.input);
        params.push_back(nj.idempotency_key);
        params.push_back(nj.idempotency_key ? PgParam(to_hex(nj.request_hash.data(), nj.request_hash.size()))
                                            : std::nullopt);
        params.push_back(std::to_string(batch[i]->now_ms));
      }
      sql += " RETURNING uuid, seq";
      PgResult ins = c.exec(sql, params);
      std::map<std::string, int64_t> seq_of;
      for (int k = 0; k < ins.rows(); ++k) seq_of[ins.str(k, 0)] = ins.i64(k, 1);
      for (size_t i : rows) results[i].job.seq = seq_of.at(results[i].job.uuid);
      created = rows.size();
      c.exec("SELECT pg_notify('mlgate_jobs', $1)", {instance_});
    }
  });
  // Replays of a job created earlier in this batch get it now it has a seq.
  for (auto& res : results)
    if (res.job.seq < 0) {
      InsertOutcome o = res.outcome;
      res = results[static_cast<size_t>(-res.job.seq - 1)];
      res.outcome = o;
    }
  commits_.fetch_add(1, std::memory_order_relaxed);
  committed_ops_.fetch_add(created, std::memory_order_relaxed);
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value({std::move(results[i]), ""});
}

// ---- reads

std::optional<Job> PgJobStore::get(std::string_view uuid, std::string_view owner) {
  return with_conn([&](PgConn& c) {
    return one_job(c.exec_prepared("SELECT " JOB_COLS " FROM mlgate_jobs WHERE uuid = $1 AND owner = $2",
                                   {std::string(uuid), std::string(owner)}));
  });
}

std::optional<Job> PgJobStore::get_any(std::string_view uuid) {
  return with_conn([&](PgConn& c) {
    return one_job(
        c.exec_prepared("SELECT " JOB_COLS " FROM mlgate_jobs WHERE uuid = $1", {std::string(uuid)}));
  });
}

std::optional<Job> PgJobStore::get_by_seq(int64_t seq) {
  return with_conn([&](PgConn& c) {
    return one_job(
        c.exec_prepared("SELECT " JOB_COLS " FROM mlgate_jobs WHERE seq = $1", {std::to_string(seq)}));
  });
}

JobStore::Page PgJobStore::list(const JobQuery& q) {
  Page page;
  with_conn([&](PgConn& c) {
    // A NULL parameter is "no filter"; with an owner the plan stays on the
    // (owner, seq) index.
    PgResult r = c.exec_prepared(
        q.owner ? "SELECT " JOB_COLS " FROM mlgate_jobs WHERE owner = $1 AND "
                  "($2::text IS NULL OR status = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4"
                : "SELECT " JOB_COLS " FROM mlgate_jobs WHERE ($1::text IS NULL OR true) AND "
                  "($2::text IS NULL OR status = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4",
        {q.owner, q.status ? PgParam(to_string(*q.status)) : std::nullopt,
         std::to_string(q.before.value_or(INT64_MAX)), std::to_string(q.limit + 1)});
    for (int i = 0; i < r.rows(); ++i) page.jobs.push_back(read_job(r, i));
  });
  if (page.jobs.size() > static_cast<size_t>(q.limit)) {
    page.jobs.pop_back();
    page.next_before = page.jobs.back().seq;
  }
  return page;
}

size_t PgJobStore::unfinished() const {
  {
    // While the database fails, /health and /metrics answer at once with
    // the last count seen (the keeper clears the failure when it is back).
    std::lock_guard lock(health_mu_);
    if (!failure_.empty()) return unfinished_seen_.load(std::memory_order_relaxed);
  }
  try {
    size_t n = with_conn([&](PgConn& c) {
      return static_cast<size_t>(
          c.exec("SELECT count(*) FROM mlgate_jobs WHERE status IN ('pending','running')").i64(0, 0));
    });
    unfinished_seen_.store(n, std::memory_order_relaxed);
    return n;
  } catch (const StorageUnavailable&) {
    // /health and /metrics show the last count seen; failure() says why.
    return unfinished_seen_.load(std::memory_order_relaxed);
  }
}

std::vector<std::pair<int64_t, int64_t>> PgJobStore::pending_jobs() {
  return with_conn([&](PgConn& c) {
    std::vector<std::pair<int64_t, int64_t>> out;
    PgResult r = c.exec("SELECT seq, run_after FROM mlgate_jobs WHERE status = 'pending' ORDER BY seq");
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.i64(i, 0), r.i64(i, 1));
    return out;
  });
}

// ---- claims, outcomes, cancels

std::vector<ClaimedJob> PgJobStore::claim(const std::vector<int64_t>& seqs, int64_t now_ms) {
  if (seqs.empty()) return {};
  return with_conn([&](PgConn& c) {
    return read_claimed(c.exec_prepared(
        std::string("UPDATE mlgate_jobs SET status = 'running', attempts = attempts + 1, "
                    "started_at = greatest($2, created_at), lease_owner = $3, lease_until = ") +
            kPgNowMs + " + $4 WHERE seq IN (SELECT seq FROM mlgate_jobs WHERE seq = ANY($1::bigint[]) "
            "AND status = 'pending' FOR UPDATE SKIP LOCKED) RETURNING seq, uuid, input, attempts",
        {pg_array(seqs), std::to_string(now_ms), instance_, std::to_string(opt_.lease_ms)}));
  });
}

std::vector<ClaimedJob> PgJobStore::claim_next(size_t limit, int64_t now_ms) {
  return with_conn([&](PgConn& c) {
    return read_claimed(c.exec_prepared(
        std::string("UPDATE mlgate_jobs SET status = 'running', attempts = attempts + 1, "
                    "started_at = greatest($1, created_at), lease_owner = $3, lease_until = ") +
            kPgNowMs + " + $4 WHERE seq IN (SELECT seq FROM mlgate_jobs WHERE status = 'pending' "
            "AND run_after <= $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED) "
            "RETURNING seq, uuid, input, attempts",
        {std::to_string(now_ms), std::to_string(limit), instance_, std::to_string(opt_.lease_ms)}));
  });
}

void PgJobStore::finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms) {
  std::vector<int64_t> terminal;
  const bool all_completed = std::all_of(outcomes.begin(), outcomes.end(),
                                         [](const JobOutcome& o) { return o.kind == JobOutcome::Completed; });
  if (all_completed && !outcomes.empty()) {
    // The common batch: every result in one statement (one round trip, one
    // commit), under the same lease and attempt conditions as below.
    std::vector<int64_t> seq, attempt;
    std::vector<PgParam> label, score, result;
    for (const JobOutcome& o : outcomes) {
      seq.push_back(o.seq);
      attempt.push_back(o.attempt);
      label.push_back(o.label);
      score.push_back(float_text(o.score));
      result.push_back(o.detail_json);
    }
    with_conn([&](PgConn& c) {
      PgResult r = c.exec_prepared(
          "WITH u AS (SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[], $5::text[]) "
          "AS u(seq, attempt, label, score, result)), "
          "done AS (UPDATE mlgate_jobs j SET status = 'completed', result_label = u.label, "
          "result_score = u.score, result = u.result, error = NULL, "
          "finished_at = greatest($7::bigint, j.started_at), lease_owner = NULL, lease_until = NULL "
          "FROM u WHERE j.seq = u.seq AND j.status = 'running' AND j.lease_owner = $6 "
          "AND (u.attempt = 0 OR j.attempts = u.attempt) RETURNING j.seq) "
          "SELECT string_agg(seq::text, ','), pg_notify('mlgate_done', string_agg(seq::text, ',')) "
          "FROM done HAVING count(*) > 0",
          {pg_array(seq), pg_array(attempt), pg_array(label), pg_array(score), pg_array(result), instance_,
           std::to_string(now_ms)});
      terminal = r.rows() > 0 ? seq_list(r.str(0, 0)) : std::vector<int64_t>{};
    });
    for (int64_t s : terminal) waiters_.notify(s);
    return;
  }
  with_tx([&](PgConn& c) {
    terminal.clear();
    // Every update: only while the job runs under this instance's lease,
    // at the outcome's attempt (the fencing token; 0 = not checked). A job
    // canceled meanwhile keeps its `canceled` and the late result is dropped.
    const std::string held =
        " WHERE seq = $1 AND status = 'running' AND lease_owner = $2 AND ($3 = 0 OR attempts = $3)";
    for (const JobOutcome& o : outcomes) {
      std::vector<PgParam> p = {std::to_string(o.seq), instance_, std::to_string(o.attempt)};
      PgResult r;
      switch (o.kind) {
        case JobOutcome::Completed:
          p.insert(p.end(), {o.label, float_text(o.score), o.detail_json, std::to_string(now_ms)});
          r = c.exec("UPDATE mlgate_jobs SET status = 'completed', result_label = $4, result_score = $5, "
                     "result = $6, error = NULL, finished_at = greatest($7, started_at), "
                     "lease_owner = NULL, lease_until = NULL" + held + " RETURNING seq",
                     p);
          break;
        case JobOutcome::Failed:
          p.insert(p.end(), {o.error, std::to_string(now_ms)});
          r = c.exec("UPDATE mlgate_jobs SET status = 'failed', error = $4, "
                     "finished_at = greatest($5, started_at), lease_owner = NULL, lease_until = NULL" +
                         held + " RETURNING seq",
                     p);
          break;
        case JobOutcome::Retry:
          p.insert(p.end(), {o.error, std::to_string(o.run_after_ms)});
          c.exec("UPDATE mlgate_jobs SET status = 'pending', error = $4, run_after = $5, "
                 "lease_owner = NULL, lease_until = NULL" + held, p);
          break;
        case JobOutcome::Interrupted:
          c.exec("UPDATE mlgate_jobs SET status = 'pending', started_at = NULL, attempts = attempts - 1, "
                 "lease_owner = NULL, lease_until = NULL" + held, p);
          break;
      }
      if (r.rows() > 0) terminal.push_back(o.seq);
    }
    // One round trip tells every instance of every job this batch finished.
    if (!terminal.empty())
      c.exec("SELECT pg_notify('mlgate_done', array_to_string($1::bigint[], ','))", {pg_array(terminal)});
  });
  for (int64_t seq : terminal) waiters_.notify(seq);
}

JobStore::CancelResult PgJobStore::cancel(std::string_view uuid, std::string_view owner, int64_t now_ms) {
  CancelResult res{CancelOutcome::NotFound, std::nullopt};
  with_tx([&](PgConn& c) {
    res = {CancelOutcome::NotFound, std::nullopt};
    PgResult r = c.exec("SELECT " JOB_COLS " FROM mlgate_jobs WHERE uuid = $1 AND owner = $2 FOR UPDATE",
                        {std::string(uuid), std::string(owner)});
    auto job = one_job(r);
    if (!job) return;
    if (job->finished()) {
      res = {CancelOutcome::Finished, std::move(job)};
      return;
    }
    PgResult up = c.exec(
        "UPDATE mlgate_jobs SET status = 'canceled', finished_at = greatest($1, coalesce(started_at, "
        "created_at)), lease_owner = NULL, lease_until = NULL WHERE seq = $2 RETURNING finished_at",
        {std::to_string(now_ms), std::to_string(job->seq)});
    res.outcome = job->status == JobStatus::Running ? CancelOutcome::CanceledRunning : CancelOutcome::Canceled;
    job->status = JobStatus::Canceled;
    job->finished_at = up.i64(0, 0);
    c.exec("SELECT pg_notify('mlgate_done', $1)", {std::to_string(job->seq)});
    if (res.outcome == CancelOutcome::CanceledRunning)
      c.exec("SELECT pg_notify('mlgate_cancel', $1)", {std::to_string(job->seq)});
    res.job = std::move(job);
  });
  if (res.job && res.outcome != CancelOutcome::Finished) waiters_.notify(res.job->seq);
  return res;
}

// ---- leases

JobStore::Recovery PgJobStore::recover(int64_t now_ms) {
  Recovery rec;
  with_tx([&](PgConn& c) {
    // Jobs whose lease ran out on the database's clock: their instance is
    // gone or hung. The attempt stays counted; one that used all its
    // attempts most likely killed its instance, so it is not run again.
    const std::string expired = std::string("status = 'running' AND lease_until < ") + kPgNowMs;
    PgResult f = c.exec(
        "UPDATE mlgate_jobs SET status = 'failed', finished_at = greatest($1, started_at), "
        "error = 'interrupted: its instance stopped; no attempts left', lease_owner = NULL, "
        "lease_until = NULL WHERE " + expired + " AND attempts >= $2 RETURNING seq",
        {std::to_string(now_ms), std::to_string(opt_.max_attempts)});
    rec.failed = static_cast<size_t>(f.rows());
    for (int i = 0; i < f.rows(); ++i) c.exec("SELECT pg_notify('mlgate_done', $1)", {f.str(i, 0)});
    PgResult q = c.exec("UPDATE mlgate_jobs SET status = 'pending', started_at = NULL, "
                        "lease_owner = NULL, lease_until = NULL WHERE " + expired + " RETURNING seq");
    rec.requeued = static_cast<size_t>(q.rows());
    if (rec.requeued > 0) c.exec("SELECT pg_notify('mlgate_jobs', 'recovered')");
  });
  return rec;
}

void PgJobStore::heartbeat() {
  with_conn([&](PgConn& c) {
    c.exec(std::string("UPDATE mlgate_jobs SET lease_until = ") + kPgNowMs +
               " + $2 WHERE status = 'running' AND lease_owner = $1",
           {instance_, std::to_string(opt_.lease_ms)});
  });
}

void PgJobStore::keeper_loop(std::stop_token st) {
  // Every second: renew our leases (a lease is 15 s by default, so several
  // renewals can fail before one runs out), and take over expired ones.
  const auto period = std::chrono::milliseconds(std::clamp<int64_t>(opt_.lease_ms / 3, 10, 1000));
  std::mutex m;
  std::condition_variable_any cv;
  while (!st.stop_requested()) {
    try {
      heartbeat();
      Recovery r = recover(wall_ms());
      if (r.requeued || r.failed)
        Log::instance().warn("postgres: took over jobs whose instance stopped renewing its lease",
                             {{"requeued", r.requeued}, {"failed", r.failed}});
    } catch (const std::exception&) {
      // failure() reports it; the next round tries again.
    }
    std::unique_lock lock(m);
    cv.wait_for(lock, st, period, [] { return false; });
  }
}

// ---- retention

size_t PgJobStore::purge_finished(int64_t before_ms, size_t batch) {
  return with_tx([&](PgConn& c) -> size_t {
    // One instance purges at a time; the others find the lock taken and
    // skip (0: nothing left for them this round).
    if (c.exec(kPurgeLock).str(0, 0) != "t") return 0;
    PgResult r = c.exec(
        "DELETE FROM mlgate_jobs WHERE seq IN (SELECT seq FROM mlgate_jobs WHERE finished_at < $1 "
        "LIMIT $2) RETURNING seq",
        {std::to_string(before_ms), std::to_string(batch)});
    return static_cast<size_t>(r.rows());
  });
}

}  // namespace mlgate
