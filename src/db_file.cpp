#include "db_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <thread>

#include "clock.hpp"
#include "db.hpp"
#include "schema.hpp"

namespace mlgate {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRemedy = ": restore it from a backup, or move it away to start with a new one";

std::string errno_text() { return std::strerror(errno); }

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);  // best effort: the file itself is already on disk
  ::close(fd);
}

void remove_quietly(const std::string& base) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((base + suffix).c_str());
}

// A new database is made under a temporary name and linked into place only
// once it is migrated and on disk, so `path` is either absent or complete.
// link() rather than rename(): if another process made the file meanwhile,
// theirs is kept and checked like any existing file.
void create_database(const std::string& path) {
  const std::string tmp = path + ".new-" + std::to_string(::getpid());
  remove_quietly(tmp);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw DbFileError("cannot create database " + tmp + ": " + errno_text());
  // O_CREAT's mode passes through the umask; this does not. SQLite gives
  // the -wal and -shm files this file's mode.
  int rc = ::fchmod(fd, 0600);
  ::close(fd);
  try {
    if (rc != 0) throw DbFileError("cannot make " + tmp + " private: " + errno_text());
    Db db = Db::open(tmp);
    migrate(db);
    // Everything into the main file: closing the last connection then
    // removes the WAL, and the file linked below is complete on its own.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception& e) {
    remove_quietly(tmp);
    throw DbFileError(std::string("cannot create database ") + path + ": " + e.what());
  }
  if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
    std::string err = errno_text();
    remove_quietly(tmp);
    throw DbFileError("cannot create database " + path + ": " + err);
  }
  remove_quietly(tmp);
  fsync_dir(fs::path(path).parent_path().string());
}

void verify_database(const std::string& path, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) throw DbFileError(path + " is not a regular file");
  if (st.st_size == 0)
    throw DbFileError(path + " is empty (0 bytes), not an mlgate database" + kRemedy);
  char magic[16] = {};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DbFileError("cannot read " + path + ": " + errno_text());
  ssize_t n = ::read(fd, magic, sizeof magic);
  // Closed before SQLite opens the file: a descriptor closed later would
  // drop the POSIX locks SQLite's connections hold on it.
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof magic) || std::memcmp(magic, "SQLite format 3", 16) != 0)
    throw DbFileError(path + " is not an SQLite database, so not an mlgate one" + kRemedy);
  try {
    Db db = Db::open_existing(path);
    if (auto why = schema_mismatch(db))
      throw DbFileError(path + " cannot be used: " + *why);
  } catch (const DbError& e) {
    throw DbFileError(path + " cannot be read as a database (" + e.what() + ")" + kRemedy);
  }
}

}  // namespace

std::string corrupt_file_message(const std::string& path, const std::string& problem) {
  return path + " is corrupt (" + problem + ")" + kRemedy;
}

void make_private_dir(const std::string& dir) {
  // Only the components made here are set to 0700; mkdir's mode is masked
  // by the umask, so chmod makes it exact.
  fs::path p = fs::absolute(fs::path(dir)).lexically_normal();
  fs::path cur;
  for (const auto& part : p) {
    cur /= part;
    if (cur.empty() || part.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) == 0) {
      if (::chmod(cur.c_str(), 0700) != 0)
        throw DbFileError("cannot make data directory " + cur.string() + " private: " + errno_text());
    } else if (errno != EEXIST) {
      throw DbFileError("cannot create data directory " + dir + ": " + errno_text());
    }
  }
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw DbFileError("data directory " + dir + " is not a directory");
}

PreparedFile prepare_database_file(const std::string& path) {
  PreparedFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw DbFileError("cannot read " + path + ": " + errno_text());
    // A WAL without its database holds commits that belong to a file that
    // is gone; a new database beside it would take them for its own.
    struct stat wal {};
    if (::stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0)
      throw DbFileError(path + " is missing but " + path +
                        "-wal is there: restore the database, or move the -wal away to start "
                        "with a new one");
    create_database(path);
    out.created = true;
    if (::stat(path.c_str(), &st) != 0)
      throw DbFileError("cannot read " + path + ": " + errno_text());
  }
  verify_database(path, st);
  // A file made by an earlier version (or restored by hand) may be readable
  // by others; the jobs' texts are in it. Best effort for the side files.
  if ((st.st_mode & 0077) != 0 && ::chmod(path.c_str(), 0600) != 0)
    out.warning = "cannot make " + path + " private: " + errno_text();
  for (const char* side : {"-wal", "-shm"}) ::chmod((path + side).c_str(), 0600);
  return out;
}

FileWatch::FileWatch(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) files_.push_back({p, st.st_dev, st.st_ino});
  }
}

std::optional<FileWatch::Problem> FileWatch::check() const {
  // While SQLite holds a file open its inode cannot be reused, so the same
  // (device, inode) at the path means the same file, not a new one that
  // happens to get the old number.
  for (const auto& f : files_) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Problem{f.path, true};
      continue;  // EACCES, EIO...: not evidence that the file changed
    }
    if (st.st_dev != f.dev || st.st_ino != f.ino) return Problem{f.path, false};
  }
  return std::nullopt;
}

std::string FileWatch::Problem::describe() const {
  return fs::path(path).filename().string() + (deleted ? " was deleted" : " was replaced");
}

}  // namespace mlgate

namespace mlgate {

struct IntegrityCheck::State {
  Db db;
  std::chrono::milliseconds limit;
  std::mutex mu;  // guards result
  std::condition_variable cv;
  std::optional<Result> result;
  std::atomic<bool> done{false};
  // SQLite 3.40's check ignores the progress handler while it walks a
  // b-tree, but stops on sqlite3_interrupt(): this thread sends it at the
  // limit, or at once when stopped (the check ended, or the owner went).
  std::jthread timer;
  std::jthread worker;
};

IntegrityCheck::IntegrityCheck(const std::string& path, std::chrono::milliseconds limit)
    : s_(std::make_unique<State>()) {
  try {
    s_->db = Db::open_existing(path);
  } catch (const DbError& e) {
    throw DbFileError(e.what());
  }
  s_->limit = limit;
  sqlite3* raw = s_->db.raw();
  State* state = s_.get();
  s_->timer = std::jthread([raw, limit, state](std::stop_token st) {
    sleep_for(st, limit);
    // Again until the check ends: an interrupt sent before its statement
    // started is forgotten when it starts.
    while (!state->done.load()) {
      sqlite3_interrupt(raw);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  s_->worker = std::jthread([this] { run(); });
}

IntegrityCheck::~IntegrityCheck() {
  s_->timer.request_stop();  // interrupts a check still running
  s_->worker = std::jthread();
  s_->timer = std::jthread();
}  // the connection closes last, with State

// quick_check reads every page of every table and index and decodes each
// row; not the index-to-table agreement that integrity_check also proves,
// at several times the cost. CHECK constraints are left out (on this
// connection only, which never writes): they validate values mlgate itself
// wrote, not the file's structure, and were two thirds of the time (0.46 s
// -> 0.17 s for 100,000 jobs).
void IntegrityCheck::run() {
  const int64_t t0 = mono_ns();
  Result r;
  r.complete = true;
  try {
    s_->db.exec("PRAGMA ignore_check_constraints=ON");
    Stmt st = s_->db.prepare("PRAGMA quick_check(1)");
    if (st.step() && st.text_view(0) != "ok") r.problem = st.text(0);
  } catch (const DbError& e) {
    if ((e.code & 0xff) == SQLITE_INTERRUPT) r.complete = false;
    else r.problem = e.what();
  }
  s_->done.store(true);
  s_->timer.request_stop();
  // SQLite's report spans lines ("*** in database main ***\nPage 27: ...").
  const std::string banner = "*** in database main ***";
  if (r.problem.rfind(banner, 0) == 0) r.problem.erase(0, banner.size());
  for (char& ch : r.problem)
    if (ch == '\n' || ch == '\r') ch = ' ';
  while (!r.problem.empty() && r.problem.front() == ' ') r.problem.erase(0, 1);
  r.ms = (mono_ns() - t0) / 1'000'000;
  {
    std::lock_guard lock(s_->mu);
    s_->result = r;
  }
  s_->cv.notify_all();
}

std::optional<IntegrityCheck::Result> IntegrityCheck::wait_for(std::chrono::milliseconds d) {
  std::unique_lock lock(s_->mu);
  s_->cv.wait_for(lock, d, [&] { return s_->result.has_value(); });
  return s_->result;
}

}  // namespace mlgate
