// db.hpp: a thin RAII layer over the SQLite C API.
//
// Contract: a Db is one sqlite3 connection and is used by one thread at a
// time (the owner documents which). Every failure throws DbError carrying the
// SQLite result code, so callers can tell "storage is full or failing" (a 503
// for the client) from a programming error. Statements are always prepared:
// values are bound, never spliced into SQL text.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mlgate {

struct DbError : std::runtime_error {
  int code;  // primary SQLite result code (SQLITE_FULL, SQLITE_IOERR, ...)
  DbError(int c, const std::string& what) : std::runtime_error(what), code(c) {}
  // The disk or the database is full, unreadable or locked: the request may
  // succeed later, so the HTTP layer answers 503 rather than 500.
  bool is_storage_failure() const;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql);
  Stmt(Stmt&& o) noexcept : st_(o.st_), db_(o.db_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binding is 1-based, as in SQLite. Text and blobs are copied.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, std::nullptr_t);
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind(i, nullptr);
  }
  Stmt& bind_blob(int i, const void* p, size_t n);

  // True while a row is available; false when done. Throws DbError.
  bool step();
  // step() for statements that return no rows, then reset for reuse.
  void run();
  void reset();  // also clears bindings

  bool is_null(int col) const;
  int64_t i64(int col) const;
  double f64(int col) const;
  std::string text(int col) const;
  std::string_view text_view(int col) const;  // valid until the next step()
  std::string_view blob_view(int col) const;  // valid until the next step()
  std::optional<int64_t> opt_i64(int col) const;
  std::optional<std::string> opt_text(int col) const;

 private:
  [[noreturn]] void fail(int rc) const;
  sqlite3_stmt* st_ = nullptr;
  sqlite3* db_ = nullptr;
};

class Db {
 public:
  // Opens (and creates) the file, sets WAL and synchronous=FULL, a busy
  // timeout, and foreign keys. `readonly` connections are for readers.
  static Db open(const std::string& path, bool readonly = false);
  // Opens a file that must already exist, as it is: nothing created, no
  // pragma that writes (a file is inspected before it is trusted).
  static Db open_existing(const std::string& path);
  Db() = default;
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql) { return Stmt(db_, sql); }
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t last_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int64_t pragma_int(const char* name);
  sqlite3* raw() const { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

// A connection with its own prepared statements, keyed by the SQL literal's
// address: each statement is compiled once per connection, then reused.
// Owned by one thread at a time, like the Db inside it.
class CachedDb {
 public:
  explicit CachedDb(Db db) : db_(std::move(db)) {}
  Db& db() { return db_; }
  // The statement, reset and unbound, ready for binding.
  Stmt& stmt(const char* sql_literal);

 private:
  Db db_;
  std::unordered_map<const char*, Stmt> cache_;
};

// Resets a cached statement when the scope ends, so the next user finds it
// ready and its read transaction is not held open.
struct StmtGuard {
  Stmt& st;
  ~StmtGuard() { st.reset(); }
};

// RAII transaction: rolls back unless commit() was called.
class Tx {
 public:
  explicit Tx(Db& db, const char* begin = "BEGIN IMMEDIATE") : db_(db) {
    db_.exec(begin);
  }
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }
  ~Tx();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

 private:
  Db& db_;
  bool done_ = false;
};

}  // namespace mlgate
