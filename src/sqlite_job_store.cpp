// sqlite_job_store.cpp: see sqlite_job_store.hpp.
#include "sqlite_job_store.hpp"

#include <algorithm>
#include <functional>

#include "clock.hpp"
#include "schema.hpp"

namespace mlgate {

class SqliteJobStore::ReaderLease {
 public:
  ReaderLease(SqliteJobStore& s, std::unique_ptr<CachedDb> c) : s_(s), c_(std::move(c)) {}
  ReaderLease(ReaderLease&&) = default;
  ~ReaderLease() {
    if (!c_) return;
    std::lock_guard lock(s_.readers_mu_);
    s_.readers_.push_back(std::move(c_));
  }
  CachedDb* operator->() { return c_.get(); }
  CachedDb& operator*() { return *c_; }

 private:
  SqliteJobStore& s_;
  std::unique_ptr<CachedDb> c_;
};

namespace {

// A status as the jobs table keeps it (its names are job_status.hpp's).
JobStatus stored_status(std::string_view name) {
  if (auto s = parse_job_status(name)) return *s;
  throw DbError(SQLITE_CORRUPT, "job with an unknown status '" + std::string(name) + "'");
}

Job read_job(const Stmt& st) {
  Job j;
  j.seq = st.i64(0);
  j.uuid = st.text(1);
  j.owner = st.text(2);
  j.key_id = st.text(3);
  j.status = stored_status(st.text_view(4));
  j.input = st.text(5);
  j.attempts = static_cast<int>(st.i64(6));
  j.result_label = st.opt_text(7);
  if (!st.is_null(8)) j.result_score = st.f64(8);
  j.result = st.opt_text(9);
  j.error = st.opt_text(10);
  j.created_at = st.i64(11);
  j.started_at = st.opt_i64(12);
  j.finished_at = st.opt_i64(13);
  return j;
}

#define SELECT_JOB(where) \
  "SELECT seq, uuid, owner, key_id, status, input, attempts, result_label, " \
  "result_score, result, error, created_at, started_at, finished_at FROM jobs " where

std::optional<Job> select_one(Stmt& st) {
  StmtGuard g{st};
  if (!st.step()) return std::nullopt;
  return read_job(st);
}

}  // namespace


SqliteJobStore::SqliteJobStore(JobStoreOptions opt) : opt_(std::move(opt)) {
  writer_ = std::make_unique<SqliteWriter>(opt_.path, [&](Db& db) {
    migrate(db);
    cursor_key_ = database_secret(db, "cursor_key");
    // Every query on unfinished jobs repeats the partial index's condition
    // (status IN ('pending','running')): SQLite uses a partial index only
    // when the query's WHERE contains its condition, and without it these
    // scanned the whole table (30 ms of start-up with 100,000 finished jobs).
    Stmt st = db.prepare("SELECT count(*) FROM jobs WHERE status IN ('pending','running')");
    st.step();
    unfinished_ = static_cast<size_t>(st.i64(0));
  }, opt_.checkpoint_at_close);
}

SqliteJobStore::~SqliteJobStore() = default;

JobStore::Recovery SqliteJobStore::recover(int64_t now_ms) {
  Recovery r;
  writer_->run([&](CachedDb& c) {
    Db& db = c.db();
    // A job found `running` was interrupted by a crash. Its attempt was
    // counted when it was claimed; one that has used all its attempts is
    // most likely what crashed the process, so it is not run again.
    db.prepare("UPDATE jobs SET status='failed', finished_at=?, "
               "error='interrupted by a crash; no attempts left' "
               "WHERE status IN ('pending','running') AND status='running' AND attempts >= ?")
        .bind(1, now_ms)
        .bind(2, opt_.max_attempts)
        .run();
    r.failed = static_cast<size_t>(db.changes());
    db.exec("UPDATE jobs SET status='pending', started_at=NULL "
            "WHERE status IN ('pending','running') AND status='running'");
    r.requeued = static_cast<size_t>(db.changes());
  });
  unfinished_.fetch_sub(r.failed, std::memory_order_relaxed);
  return r;
}

SqliteJobStore::ReaderLease SqliteJobStore::reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!readers_.empty()) {
      auto c = std::move(readers_.back());
      readers_.pop_back();
      return ReaderLease(*this, std::move(c));
    }
  }
  try {
    return ReaderLease(*this, std::make_unique<CachedDb>(Db::open(opt_.path, true)));
  } catch (const DbError& e) {
    writer_->read_failed(e);
  }
}

InsertResult SqliteJobStore::insert(const NewJob& nj, int64_t now_ms) {
  // Reserve a place first so concurrent inserts cannot overshoot the bound.
  if (unfinished_.fetch_add(1, std::memory_order_relaxed) >= opt_.queue_max) {
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
    return {InsertOutcome::QueueFull, {}};
  }
  InsertResult res{InsertOutcome::Created, {}};
  std::string uuid = new_job_uuid(now_ms);  // outside the writer's transaction
  auto op = [&](CachedDb& c) {
    if (nj.idempotency_key) {
      Stmt& q = c.stmt(SELECT_JOB("WHERE owner = ? AND idempotency_key = ?"));
      q.bind(1, nj.owner).bind(2, *nj.idempotency_key);
      if (auto prev = select_one(q)) {
        Stmt& h = c.stmt("SELECT request_hash FROM jobs WHERE seq = ?");
        StmtGuard g{h};
        h.bind(1, prev->seq).step();
        res.outcome = h.blob_view(0) == nj.request_hash ? InsertOutcome::Replayed
                                                       : InsertOutcome::Conflict;
        res.job = std::move(*prev);
        return;
      }
    }
    Job& j = res.job;
    j.uuid = std::move(uuid);
    j.owner = nj.owner;
    j.key_id = nj.key_id;
    j.status = JobStatus::Pending;
    j.created_at = now_ms;
    Stmt& ins = c.stmt(
        "INSERT INTO jobs (uuid, owner, key_id, status, input, idempotency_key, "
        "request_hash, created_at) VALUES (?,?,?,'pending',?,?,?,?)");
    StmtGuard g{ins};
    ins.bind(1, j.uuid).bind(2, nj.owner).bind(3, nj.key_id).bind(4, nj.input);
    ins.bind(5, nj.idempotency_key);
    if (nj.idempotency_key)
      ins.bind_blob(6, nj.request_hash.data(), nj.request_hash.size());
    ins.bind(7, now_ms);
    ins.step();
    j.seq = c.db().last_rowid();
  };
  try {
    writer_->run(op);
  } catch (...) {
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  if (res.outcome != InsertOutcome::Created)
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
  return res;
}

template <class Bind>
std::optional<Job> SqliteJobStore::read_one(const char* sql, Bind&& bind) {
  auto r = reader();
  try {
    Stmt& st = r->stmt(sql);
    bind(st);
    return select_one(st);
  } catch (const DbError& e) {
    writer_->read_failed(e);
  }
}

std::optional<Job> SqliteJobStore::get(std::string_view uuid, std::string_view owner) {
  return read_one(SELECT_JOB("WHERE uuid = ? AND owner = ?"),
                  [&](Stmt& st) { st.bind(1, uuid).bind(2, owner); });
}

std::optional<Job> SqliteJobStore::get_by_seq(int64_t seq) {
  return read_one(SELECT_JOB("WHERE seq = ?"), [&](Stmt& st) { st.bind(1, seq); });
}

std::optional<Job> SqliteJobStore::get_any(std::string_view uuid) {
  return read_one(SELECT_JOB("WHERE uuid = ?"), [&](Stmt& st) { st.bind(1, uuid); });
}

JobStore::Page SqliteJobStore::list(const JobQuery& q) {
  auto r = reader();
  Page page;
  try {
    // One statement for every filter combination: a NULL parameter means
    // "no filter", so the plan stays on the (owner, seq) index. Every
    // owner's jobs (the admin CLI) is a statement of its own, for the same
    // reason.
    Stmt& st = q.owner ? r->stmt(SELECT_JOB(
                             "WHERE owner = ?1 AND (?2 IS NULL OR status = ?2) AND seq < ?3 "
                             "ORDER BY seq DESC LIMIT ?4"))
                       : r->stmt(SELECT_JOB(
                             "WHERE (?2 IS NULL OR status = ?2) AND seq < ?3 "
                             "ORDER BY seq DESC LIMIT ?4"));
    StmtGuard g{st};
    if (q.owner) st.bind(1, *q.owner);
    if (q.status) st.bind(2, to_string(*q.status));
    st.bind(3, q.before.value_or(INT64_MAX));
    st.bind(4, static_cast<int64_t>(q.limit) + 1);  // one more tells if a next page exists
    while (st.step()) page.jobs.push_back(read_job(st));
  } catch (const DbError& e) {
    writer_->read_failed(e);
  }
  if (page.jobs.size() > static_cast<size_t>(q.limit)) {
    page.jobs.pop_back();
    page.next_before = page.jobs.back().seq;
  }
  return page;
}

JobStore::CancelResult SqliteJobStore::cancel(std::string_view uuid, std::string_view owner,
                                        int64_t now_ms) {
  CancelResult res{CancelOutcome::NotFound, std::nullopt};
  writer_->run([&](CachedDb& c) {
    Stmt& q = c.stmt(SELECT_JOB("WHERE uuid = ? AND owner = ?"));
    q.bind(1, uuid).bind(2, owner);
    auto job = select_one(q);
    if (!job) return;
    if (job->finished()) {
      res = {CancelOutcome::Finished, std::move(job)};
      return;
    }
    Stmt& up = c.stmt(
        "UPDATE jobs SET status='canceled', finished_at=max(?, coalesce(started_at, created_at)) "
        "WHERE seq=? AND status IN ('pending','running') RETURNING finished_at");
    StmtGuard g{up};
    up.bind(1, now_ms).bind(2, job->seq);
    const int64_t finished_at = up.step() ? up.i64(0) : now_ms;
    res.outcome = job->status == JobStatus::Running ? CancelOutcome::CanceledRunning
                                           : CancelOutcome::Canceled;
    job->status = JobStatus::Canceled;
    job->finished_at = finished_at;
    res.job = std::move(job);
  });
  if (res.outcome == CancelOutcome::Canceled ||
      res.outcome == CancelOutcome::CanceledRunning) {
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
    waiters_.notify(res.job->seq);
  }
  return res;
}

std::vector<std::pair<int64_t, int64_t>> SqliteJobStore::pending_jobs() {
  std::vector<std::pair<int64_t, int64_t>> out;
  auto r = reader();
  try {
    Stmt& st = r->stmt(
        "SELECT seq, run_after FROM jobs "
        "WHERE status IN ('pending','running') AND status='pending' ORDER BY seq");
    StmtGuard g{st};
    while (st.step()) out.emplace_back(st.i64(0), st.i64(1));
  } catch (const DbError& e) {
    writer_->read_failed(e);
  }
  return out;
}

std::vector<ClaimedJob> SqliteJobStore::claim(const std::vector<int64_t>& seqs, int64_t now_ms) {
  std::vector<ClaimedJob> out;
  writer_->run([&](CachedDb& c) {
    Stmt& up = c.stmt(
        "UPDATE jobs SET status='running', started_at=max(?, created_at), attempts=attempts+1 "
        "WHERE seq=? AND status='pending' RETURNING uuid, input, attempts");
    for (int64_t seq : seqs) {
      StmtGuard g{up};
      up.bind(1, now_ms).bind(2, seq);
      if (up.step()) out.push_back({seq, up.text(0), up.text(1), static_cast<int>(up.i64(2))});
    }
  });
  return out;
}

std::vector<ClaimedJob> SqliteJobStore::claim_next(size_t limit, int64_t now_ms) {
  std::vector<ClaimedJob> out;
  writer_->run([&](CachedDb& c) {
    Stmt& up = c.stmt(
        "UPDATE jobs SET status='running', started_at=max(?1, created_at), attempts=attempts+1 "
        "WHERE seq IN (SELECT seq FROM jobs WHERE status IN ('pending','running') "
        "AND status='pending' AND run_after <= ?1 ORDER BY seq LIMIT ?2) "
        "RETURNING seq, uuid, input, attempts");
    StmtGuard g{up};
    up.bind(1, now_ms).bind(2, static_cast<int64_t>(limit));
    while (up.step())
      out.push_back({up.i64(0), up.text(1), up.text(2), static_cast<int>(up.i64(3))});
  });
  // RETURNING gives rows in no promised order.
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.seq < b.seq; });
  return out;
}

void SqliteJobStore::finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms) {
  std::vector<int64_t> terminal;  // jobs this call finished
  writer_->run([&](CachedDb& c) {
    // `status='running'` in every update: a job canceled while it ran keeps
    // its `canceled`, and its late result is dropped. Times never run
    // backwards within a job (max with the earlier one): the wall clock may
    // step back while a job runs.
    Stmt& done = c.stmt(
        "UPDATE jobs SET status='completed', result_label=?, result_score=?, "
        "result=?, error=NULL, finished_at=max(?, started_at) WHERE seq=? AND status='running'");
    Stmt& failed = c.stmt(
        "UPDATE jobs SET status='failed', error=?, finished_at=max(?, started_at) "
        "WHERE seq=? AND status='running'");
    Stmt& retry = c.stmt(
        "UPDATE jobs SET status='pending', error=?, run_after=? "
        "WHERE seq=? AND status='running'");
    Stmt& interrupted = c.stmt(
        "UPDATE jobs SET status='pending', started_at=NULL, attempts=attempts-1 "
        "WHERE seq=? AND status='running'");
    for (const JobOutcome& o : outcomes) {
      switch (o.kind) {
        case JobOutcome::Completed: {
          StmtGuard g{done};
          done.bind(1, o.label).bind(2, o.score).bind(3, o.detail_json);
          done.bind(4, now_ms).bind(5, o.seq).step();
          if (c.db().changes() > 0) terminal.push_back(o.seq);
          break;
        }
        case JobOutcome::Failed: {
          StmtGuard g{failed};
          failed.bind(1, o.error).bind(2, now_ms).bind(3, o.seq).step();
          if (c.db().changes() > 0) terminal.push_back(o.seq);
          break;
        }
        case JobOutcome::Retry: {
          StmtGuard g{retry};
          retry.bind(1, o.error).bind(2, o.run_after_ms).bind(3, o.seq).step();
          break;
        }
        case JobOutcome::Interrupted: {
          StmtGuard g{interrupted};
          interrupted.bind(1, o.seq).step();
          break;
        }
      }
    }
  });
  unfinished_.fetch_sub(terminal.size(), std::memory_order_relaxed);
  // Committed: a `Prefer: wait` for these can answer now. A retry is not
  // an answer, so only terminal outcomes wake a waiter.
  for (int64_t seq : terminal) waiters_.notify(seq);
}

size_t SqliteJobStore::purge_finished(int64_t before_ms, size_t batch) {
  size_t n = 0;
  writer_->run([&](CachedDb& c) {
    Stmt& del = c.stmt(
        "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ? "
        "LIMIT ?)");
    StmtGuard g{del};
    del.bind(1, before_ms).bind(2, static_cast<int64_t>(batch)).step();
    n = static_cast<size_t>(c.db().changes());
  });
  return n;
}

}  // namespace mlgate
