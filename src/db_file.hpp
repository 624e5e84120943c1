// db_file.hpp: the database file on disk, as opposed to what is in it.
//
// Contract:
// - make_private_dir() creates a data directory (and any missing parent)
//   readable by the service's user only (0700), whatever the umask. An
//   existing directory keeps its mode.
// - prepare_database_file() runs before anything else opens the file. Where
//   there is no file it creates one: private (0600), migrated, and linked
//   into place in one step, so a crash never leaves a half-made file that a
//   later start would have to guess about. Where there is a file that is not
//   an mlgate database (empty, not SQLite, SQLite with another schema) it
//   throws DbFileError with one line and changes nothing in it. The -wal and
//   -shm files SQLite makes beside it take the file's mode, so they are
//   private too.
// - IntegrityCheck reads every page (PRAGMA quick_check) on a connection
//   and thread of its own, so a caller can wait for it as long as it likes
//   and let the rest go on in the background.
// - FileWatch says whether the files an open connection uses are still the
//   ones at their paths: a file deleted or replaced under a running server
//   takes every later commit with it (SQLite keeps writing to the unlinked
//   inode), which no error from SQLite reveals.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlgate {

struct DbFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws DbFileError naming the directory and the reason.
void make_private_dir(const std::string& dir);

struct PreparedFile {
  bool created = false;   // there was no file; a new one was made
  std::string warning;    // the file could not be made private (not ours?)
};

PreparedFile prepare_database_file(const std::string& path);

// "<path> is corrupt (<problem>): restore it from a backup, or ...": one line.
std::string corrupt_file_message(const std::string& path, const std::string& problem);

// PRAGMA quick_check of the file at `path`, started by the constructor.
// Thread-safe; the destructor interrupts a check still running.
class IntegrityCheck {
 public:
  struct Result {
    bool complete = false;  // false: interrupted (its time limit, or a stop)
    std::string problem;    // the first problem found, one line; "" if none
    int64_t ms = 0;
  };
  // Throws DbFileError when the file cannot be opened. `limit`: the check
  // is interrupted after this long.
  IntegrityCheck(const std::string& path, std::chrono::milliseconds limit);
  ~IntegrityCheck();
  IntegrityCheck(const IntegrityCheck&) = delete;
  IntegrityCheck& operator=(const IntegrityCheck&) = delete;

  // The result, waiting for it up to `d`; nullopt while it is still running.
  std::optional<Result> wait_for(std::chrono::milliseconds d);

 private:
  void run();
  struct State;
  std::unique_ptr<State> s_;
};

// Records the identity (device, inode) of each path when built, then
// compares: a path that is gone or names another file is a problem. Cheap
// (one stat per file), no descriptor of its own: closing a second
// descriptor of a database file would drop SQLite's POSIX locks on it.
class FileWatch {
 public:
  // Paths that do not exist now are not watched.
  explicit FileWatch(const std::vector<std::string>& paths);

  struct Problem {
    std::string path;
    bool deleted = false;  // else replaced (another file at the path)
    std::string describe() const;  // "mlgate.db-wal was deleted"
  };
  std::optional<Problem> check() const;

 private:
  struct Watched {
    std::string path;
    dev_t dev;
    ino_t ino;
  };
  std::vector<Watched> files_;
};

}  // namespace mlgate
