// sqlite_writer.cpp: see sqlite_writer.hpp.
#include "sqlite_writer.hpp"

#include <utility>

#include "clock.hpp"
#include "log.hpp"
#include "thread_name.hpp"

namespace mlgate {

struct SqliteWriter::WriteOp {
  explicit WriteOp(const std::function<void(CachedDb&)>& f) : fn(f) {}
  const std::function<void(CachedDb&)>& fn;
  std::exception_ptr error;  // set by the writer before its batch is done
};

SqliteWriter::SqliteWriter(std::string path, const std::function<void(Db&)>& setup,
                           bool checkpoint_at_close)
    : path_(std::move(path)), checkpoint_at_close_(checkpoint_at_close) {
  db_ = std::make_unique<CachedDb>(Db::open(path_));
  setup(db_->db());
  // The files exist now (the WAL and -shm since the first transaction).
  watch_.emplace(std::vector<std::string>{path_, path_ + "-wal", path_ + "-shm"});
  thread_ = std::jthread([this](std::stop_token st) {
    set_thread_name("mlg-writer");
    writer_loop(st);
  });
}

SqliteWriter::~SqliteWriter() {
  thread_.request_stop();
  write_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (faulted_ || !checkpoint_at_close_) return;  // faulted: the files at the paths are not ours
  try {
    // Fold the WAL into the main file so a clean stop leaves one file.
    db_->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const DbError&) {
    // Nothing is lost: the next open recovers the committed WAL frames.
  }
}

void SqliteWriter::run(const std::function<void(CachedDb&)>& fn) {
  WriteOp op(fn);
  submit(op);
}

void SqliteWriter::submit(WriteOp& op) {
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

void SqliteWriter::writer_loop(std::stop_token st) {
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
void SqliteWriter::commit_batch(std::vector<WriteOp*>& batch) {
  CachedDb& c = *db_;
  // One exception object per operation: an object shared through
  // exception_ptr by the threads of a batch is freed by whichever drops it
  // last, after the others read its message, a hand-over ThreadSanitizer
  // cannot follow into libstdc++ (it reported it as a race).
  auto fail_all = [&](const std::string& why) {
    for (WriteOp* op : batch) op->error = std::make_exception_ptr(StorageUnavailable(why));
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

bool SqliteWriter::check_files() {
  if (faulted_.load() || !watch_) return !faulted_.load();
  auto problem = watch_->check();
  if (!problem) return true;
  bool kept = false;
  if (problem->path != path_) {
    // The main file is still the one at its path: fold the WAL into it.
    // SQLite reads the WAL through the descriptor it holds, which a delete
    // does not close, and fsyncs the main file: every commit made so far,
    // each one a job already answered 202, is then in mlgate.db.
    try {
      Stmt st = db_->db().prepare("PRAGMA wal_checkpoint(TRUNCATE)");
      kept = st.step() && st.i64(0) == 0;  // busy = 0: the whole WAL was copied
    } catch (const DbError&) {
    }
    auto again = watch_->check();  // had the main file gone meanwhile, so had the copy
    kept = kept && (!again || again->path != path_);
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

void SqliteWriter::note_write_failure(const std::exception& e) {
  writable_.store(false, std::memory_order_relaxed);
  std::lock_guard lock(status_mu_);
  write_reason_ = e.what();
  if (auto* d = dynamic_cast<const DbError*>(&e); d && is_corruption(*d)) {
    corrupt_reason_ = e.what();
    corrupt_.store(true);
  }
}

void SqliteWriter::mark_corrupt(const std::string& problem) {
  std::lock_guard lock(status_mu_);
  corrupt_reason_ = problem;
  corrupt_.store(true);
}

void SqliteWriter::read_failed(const DbError& e) {
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

std::string SqliteWriter::failure(int64_t now_ms) const {
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

}  // namespace mlgate
