#include "job_store.hpp"

#include <cstdio>
#include <functional>

#include "api_key.hpp"
#include "clock.hpp"
#include "log.hpp"
#include "schema.hpp"
#include "thread_name.hpp"

namespace mlgate {

struct JobStore::WriteOp {
  explicit WriteOp(std::function<void(CachedDb&)> f) : fn(std::move(f)) {}
  std::function<void(CachedDb&)> fn;
  std::exception_ptr error;  // set by the writer before its batch is done
};

class JobStore::ReaderLease {
 public:
  ReaderLease(JobStore& s, std::unique_ptr<CachedDb> c) : s_(s), c_(std::move(c)) {}
  ReaderLease(ReaderLease&&) = default;
  ~ReaderLease() {
    if (!c_) return;
    std::lock_guard lock(s_.readers_mu_);
    s_.readers_.push_back(std::move(c_));
  }
  CachedDb* operator->() { return c_.get(); }
  CachedDb& operator*() { return *c_; }

 private:
  JobStore& s_;
  std::unique_ptr<CachedDb> c_;
};

namespace {

Job read_job(const Stmt& st) {
  Job j;
  j.seq = st.i64(0);
  j.uuid = st.text(1);
  j.owner = st.text(2);
  j.key_id = st.text(3);
  j.status = st.text(4);
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

// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.
// Time-ordered ids append to the uuid index instead of landing on a random
// page of it, so a group commit dirties a few pages, not one per job. The
// id reveals its creation time, which the job object shows anyway; a job
// is protected by its owner check, not by the id being unguessable.
std::string uuid7(int64_t now_ms) {
  uint8_t b[16];
  const auto ms = static_cast<uint64_t>(now_ms);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  random_bytes(b + 6, 10);
  b[6] = (b[6] & 0x0f) | 0x70;  // version 7
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 9562 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
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

nlohmann::json job_to_json(const Job& j) {
  using nlohmann::json;
  auto opt_time = [](const std::optional<int64_t>& t) {
    return t ? json(rfc3339(*t)) : json(nullptr);
  };
  json result = nullptr;
  if (j.result) result = json::parse(*j.result, nullptr, false);
  if (result.is_discarded()) result = nullptr;
  return json{{"job_uuid", j.uuid},
              {"status", j.status},
              {"result_label", j.result_label ? json(*j.result_label) : json(nullptr)},
              {"result_score", j.result_score ? json(*j.result_score) : json(nullptr)},
              {"result", result},
              {"error", j.error ? json(*j.error) : json(nullptr)},
              {"attempts", j.attempts},
              {"created_at", rfc3339(j.created_at)},
              {"started_at", opt_time(j.started_at)},
              {"finished_at", opt_time(j.finished_at)}};
}

JobStore::JobStore(JobStoreOptions opt) : opt_(std::move(opt)) {
  writer_db_ = std::make_unique<CachedDb>(Db::open(opt_.path));
  migrate(writer_db_->db());
  recover();
  cursor_key_ = database_secret(writer_db_->db(), "cursor_key");
  // The files exist now (the WAL and -shm since the first transaction).
  watch_.emplace(std::vector<std::string>{opt_.path, opt_.path + "-wal", opt_.path + "-shm"});
  writer_ = std::jthread([this](std::stop_token st) {
    set_thread_name("mlg-writer");
    writer_loop(st);
  });
}

JobStore::~JobStore() {
  writer_.request_stop();
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (faulted_) return;  // the files at the paths are not this connection's
  try {
    // Fold the WAL into the main file so a clean stop leaves one file.
    writer_db_->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const DbError&) {
    // Nothing is lost: the next open recovers the committed WAL frames.
  }
}

void JobStore::recover() {
  Db& db = writer_db_->db();
  Tx tx(db);
  // Every query on unfinished jobs repeats the partial index's condition
  // (status IN ('pending','running')): SQLite uses a partial index only when
  // the query's WHERE contains its condition, and without it these scanned
  // the whole table (30 ms of start-up with 100,000 finished jobs).
  // A job found `running` was interrupted by a crash. Its attempt was
  // counted when it was claimed; one that has used all its attempts is most
  // likely what crashed the process, so it is not run again.
  db.prepare("UPDATE jobs SET status='failed', finished_at=?, "
             "error='interrupted by a crash; no attempts left' "
             "WHERE status IN ('pending','running') AND status='running' AND attempts >= ?")
      .bind(1, wall_ms())
      .bind(2, opt_.max_attempts)
      .run();
  db.exec("UPDATE jobs SET status='pending', started_at=NULL "
          "WHERE status IN ('pending','running') AND status='running'");
  tx.commit();
  Stmt st = db.prepare("SELECT count(*) FROM jobs WHERE status IN ('pending','running')");
  st.step();
  unfinished_ = static_cast<size_t>(st.i64(0));
}

void JobStore::submit(WriteOp& op) {
  std::shared_ptr<Batch> b;
  {
    std::lock_guard lock(write_mu_);
    if (queue_.empty()) write_cv_.notify_one();  // else the writer will find it
    queue_.push_back(&op);
    b = batch_;
  }
  std::unique_lock lock(b->mu);
  b->cv.wait(lock, [&] { return b->done; });
  if (op.error) std::rethrow_exception(op.error);
}

void JobStore::writer_loop(std::stop_token st) {
  std::vector<WriteOp*> ops;
  for (;;) {
    std::shared_ptr<Batch> b;
    {
      std::unique_lock lock(write_mu_);
      // Idle, the files are checked once a second: a WAL deleted while no
      // job arrives still has its commits copied out before a crash can
      // take them.
      write_cv_.wait_for(lock, st, std::chrono::seconds(1), [&] { return !queue_.empty(); });
      if (queue_.empty()) {
        if (st.stop_requested()) return;  // nothing left to commit
        lock.unlock();
        check_files();
        continue;
      }
      ops.swap(queue_);
      b = std::exchange(batch_, std::make_shared<Batch>());
    }
    commit_batch(ops);
    {
      std::lock_guard lock(b->mu);
      b->done = true;
    }
    b->cv.notify_all();
    ops.clear();
  }
}

// One transaction for every operation that queued up during the previous
// commit. An operation's own error (a constraint) fails only that operation;
// a storage error fails the whole batch, which is rolled back.
void JobStore::commit_batch(std::vector<WriteOp*>& batch) {
  CachedDb& c = *writer_db_;
  auto fail_all = [&](const std::string& why) {
    auto err = std::make_exception_ptr(StorageUnavailable(why));
    for (WriteOp* op : batch) op->error = err;
  };
  if (faulted_.load()) {
    std::lock_guard lock(status_mu_);
    return fail_all(fault_);
  }
  try {
    Tx tx(c.db());
    for (WriteOp* op : batch) {
      try {
        op->fn(c);
      } catch (const DbError& e) {
        if (e.is_storage_failure()) throw;
        op->error = std::current_exception();
      } catch (...) {
        op->error = std::current_exception();
      }
    }
    tx.commit();
    commits_.fetch_add(1, std::memory_order_relaxed);
    ops_.fetch_add(batch.size(), std::memory_order_relaxed);
    writable_.store(true, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    note_write_failure(e);
    return fail_all(e.what());
  }
  // After the commit, before anyone hears of it: a commit fsynced into a
  // WAL that is no longer at its path is not durable.
  if (!check_files()) {
    std::lock_guard lock(status_mu_);
    fail_all(fault_);
  }
}

bool JobStore::check_files() {
  if (faulted_.load() || !watch_) return !faulted_.load();
  auto problem = watch_->check();
  if (!problem) return true;
  bool kept = false;
  if (problem->path != opt_.path) {
    // The main file is still the one at its path: fold the WAL into it.
    // SQLite reads the WAL through the descriptor it holds, which a delete
    // does not close, and fsyncs the main file: every commit made so far,
    // each one a job already answered 202, is then in mlgate.db.
    try {
      Stmt st = writer_db_->db().prepare("PRAGMA wal_checkpoint(TRUNCATE)");
      kept = st.step() && st.i64(0) == 0;  // busy = 0: the whole WAL was copied
    } catch (const DbError&) {
    }
    auto again = watch_->check();  // had the main file gone meanwhile, so had the copy
    kept = kept && (!again || again->path != opt_.path);
  }
  Log::instance().error("database file changed while the server ran; writes refused until a restart",
                        {{"file", problem->path},
                         {"problem", problem->deleted ? "deleted" : "replaced"},
                         {"commits_copied_to_database", kept}});
  {
    std::lock_guard lock(status_mu_);
    fault_ = problem->describe() + " while mlgate ran; writes are refused until a restart";
  }
  faulted_.store(true);
  return kept;
}

namespace {
bool is_corruption(const DbError& e) {
  return (e.code & 0xff) == SQLITE_CORRUPT || (e.code & 0xff) == SQLITE_NOTADB;
}
}  // namespace

void JobStore::note_write_failure(const std::exception& e) {
  writable_.store(false, std::memory_order_relaxed);
  std::lock_guard lock(status_mu_);
  write_reason_ = e.what();
  if (auto* d = dynamic_cast<const DbError*>(&e); d && is_corruption(*d)) {
    corrupt_reason_ = e.what();
    corrupt_.store(true);
  }
}

void JobStore::mark_corrupt(const std::string& problem) {
  std::lock_guard lock(status_mu_);
  corrupt_reason_ = problem;
  corrupt_.store(true);
}

void JobStore::read_failed(const DbError& e) {
  {
    std::lock_guard lock(status_mu_);
    read_reason_ = e.what();
    if (is_corruption(e)) {
      corrupt_reason_ = e.what();
      corrupt_.store(true);
    }
  }
  read_failed_at_ms_.store(std::max<int64_t>(1, wall_ms()), std::memory_order_relaxed);
  throw StorageUnavailable(e.what());
}

std::string JobStore::failure(int64_t now_ms) const {
  const int64_t read_at = read_failed_at_ms_.load(std::memory_order_relaxed);
  const bool recent_read = read_at != 0 && now_ms - read_at < kReadFailureWindowMs;
  if (!faulted_.load() && !corrupt_.load() && writable() && !recent_read) return "";
  std::lock_guard lock(status_mu_);
  if (faulted_.load()) return fault_;
  // Corruption does not heal: it is reported until a restart, whose
  // integrity check then refuses the file.
  if (corrupt_.load()) return "the database is corrupt (" + corrupt_reason_ + "); restore it from a backup";
  if (!writable()) return "the last commit failed: " + write_reason_;
  return "a read failed " + std::to_string((now_ms - read_at) / 1000) + " s ago: " + read_reason_;
}

void JobStore::write(const std::function<void(Db&)>& fn) {
  WriteOp op([&](CachedDb& c) { fn(c.db()); });
  submit(op);
}

JobStore::ReaderLease JobStore::reader() {
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
    read_failed(e);
  }
}

InsertResult JobStore::insert(const NewJob& nj, int64_t now_ms) {
  // Reserve a place first so concurrent inserts cannot overshoot the bound.
  if (unfinished_.fetch_add(1, std::memory_order_relaxed) >= opt_.queue_max) {
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
    return {InsertOutcome::QueueFull, {}};
  }
  InsertResult res{InsertOutcome::Created, {}};
  std::string uuid = uuid7(now_ms);  // outside the writer's transaction
  WriteOp op([&](CachedDb& c) {
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
    j.status = "pending";
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
  });
  try {
    submit(op);
  } catch (...) {
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  if (res.outcome != InsertOutcome::Created)
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
  return res;
}

std::optional<Job> JobStore::get(std::string_view uuid, std::string_view owner) {
  auto r = reader();
  try {
    Stmt& st = r->stmt(SELECT_JOB("WHERE uuid = ? AND owner = ?"));
    st.bind(1, uuid).bind(2, owner);
    return select_one(st);
  } catch (const DbError& e) {
    read_failed(e);
  }
}

std::optional<Job> JobStore::get_by_seq(int64_t seq) {
  auto r = reader();
  try {
    Stmt& st = r->stmt(SELECT_JOB("WHERE seq = ?"));
    st.bind(1, seq);
    return select_one(st);
  } catch (const DbError& e) {
    read_failed(e);
  }
}

JobStore::Page JobStore::list(std::string_view owner, std::optional<std::string> status,
                              int limit, std::optional<int64_t> before) {
  auto r = reader();
  Page page;
  try {
    // One statement for every filter combination: a NULL parameter means
    // "no filter", so the plan stays on the (owner, seq) index.
    Stmt& st = r->stmt(SELECT_JOB(
        "WHERE owner = ?1 AND (?2 IS NULL OR status = ?2) AND seq < ?3 "
        "ORDER BY seq DESC LIMIT ?4"));
    StmtGuard g{st};
    st.bind(1, owner).bind(2, status).bind(3, before.value_or(INT64_MAX));
    st.bind(4, static_cast<int64_t>(limit) + 1);  // one more tells if a next page exists
    while (st.step()) page.jobs.push_back(read_job(st));
  } catch (const DbError& e) {
    read_failed(e);
  }
  if (page.jobs.size() > static_cast<size_t>(limit)) {
    page.jobs.pop_back();
    page.next_before = page.jobs.back().seq;
  }
  return page;
}

JobStore::CancelResult JobStore::cancel(std::string_view uuid, std::string_view owner,
                                        int64_t now_ms) {
  CancelResult res{CancelOutcome::NotFound, std::nullopt};
  WriteOp op([&](CachedDb& c) {
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
    res.outcome = job->status == "running" ? CancelOutcome::CanceledRunning
                                           : CancelOutcome::Canceled;
    job->status = "canceled";
    job->finished_at = finished_at;
    res.job = std::move(job);
  });
  submit(op);
  if (res.outcome == CancelOutcome::Canceled ||
      res.outcome == CancelOutcome::CanceledRunning)
    unfinished_.fetch_sub(1, std::memory_order_relaxed);
  return res;
}

std::vector<std::pair<int64_t, int64_t>> JobStore::pending_jobs() {
  std::vector<std::pair<int64_t, int64_t>> out;
  auto r = reader();
  try {
    Stmt& st = r->stmt(
        "SELECT seq, run_after FROM jobs "
        "WHERE status IN ('pending','running') AND status='pending' ORDER BY seq");
    StmtGuard g{st};
    while (st.step()) out.emplace_back(st.i64(0), st.i64(1));
  } catch (const DbError& e) {
    read_failed(e);
  }
  return out;
}

std::vector<ClaimedJob> JobStore::claim(const std::vector<int64_t>& seqs, int64_t now_ms) {
  std::vector<ClaimedJob> out;
  WriteOp op([&](CachedDb& c) {
    Stmt& up = c.stmt(
        "UPDATE jobs SET status='running', started_at=max(?, created_at), attempts=attempts+1 "
        "WHERE seq=? AND status='pending' RETURNING uuid, input, attempts");
    for (int64_t seq : seqs) {
      StmtGuard g{up};
      up.bind(1, now_ms).bind(2, seq);
      if (up.step()) out.push_back({seq, up.text(0), up.text(1), static_cast<int>(up.i64(2))});
    }
  });
  submit(op);
  return out;
}

void JobStore::finish(const std::vector<JobOutcome>& outcomes, int64_t now_ms) {
  size_t terminal = 0;
  WriteOp op([&](CachedDb& c) {
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
          terminal += c.db().changes() > 0;
          break;
        }
        case JobOutcome::Failed: {
          StmtGuard g{failed};
          failed.bind(1, o.error).bind(2, now_ms).bind(3, o.seq).step();
          terminal += c.db().changes() > 0;
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
  submit(op);
  unfinished_.fetch_sub(terminal, std::memory_order_relaxed);
}

size_t JobStore::purge_finished(int64_t before_ms, size_t batch) {
  size_t n = 0;
  WriteOp op([&](CachedDb& c) {
    Stmt& del = c.stmt(
        "DELETE FROM jobs WHERE seq IN (SELECT seq FROM jobs WHERE finished_at < ? "
        "LIMIT ?)");
    StmtGuard g{del};
    del.bind(1, before_ms).bind(2, static_cast<int64_t>(batch)).step();
    n = static_cast<size_t>(c.db().changes());
  });
  submit(op);
  return n;
}

}  // namespace mlgate
