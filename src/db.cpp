#include "db.hpp"

namespace mlgate {

bool DbError::is_storage_failure() const {
  switch (code & 0xff) {
    case SQLITE_FULL: case SQLITE_IOERR: case SQLITE_BUSY: case SQLITE_LOCKED:
    case SQLITE_CANTOPEN: case SQLITE_READONLY: case SQLITE_CORRUPT:
    case SQLITE_NOTADB: case SQLITE_PROTOCOL: case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

Stmt::Stmt(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
  if (rc != SQLITE_OK) fail(rc);
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    st_ = o.st_;
    db_ = o.db_;
    o.st_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(st_); }

void Stmt::fail(int rc) const {
  throw DbError(rc, std::string("sqlite: ") + sqlite3_errmsg(db_));
}

Stmt& Stmt::bind(int i, int64_t v) {
  if (int rc = sqlite3_bind_int64(st_, i, v)) fail(rc);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  if (int rc = sqlite3_bind_double(st_, i, v)) fail(rc);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view v) {
  if (int rc = sqlite3_bind_text64(st_, i, v.data(), v.size(), SQLITE_TRANSIENT,
                                   SQLITE_UTF8))
    fail(rc);
  return *this;
}
Stmt& Stmt::bind(int i, std::nullptr_t) {
  if (int rc = sqlite3_bind_null(st_, i)) fail(rc);
  return *this;
}
Stmt& Stmt::bind_blob(int i, const void* p, size_t n) {
  if (int rc = sqlite3_bind_blob64(st_, i, p, n, SQLITE_TRANSIENT)) fail(rc);
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Keep the extended code for the message, reset so the statement is reusable.
  std::string msg = std::string("sqlite: ") + sqlite3_errmsg(db_);
  sqlite3_reset(st_);
  throw DbError(rc, msg);
}

void Stmt::run() {
  step();
  reset();
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

bool Stmt::is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
int64_t Stmt::i64(int c) const { return sqlite3_column_int64(st_, c); }
double Stmt::f64(int c) const { return sqlite3_column_double(st_, c); }
std::string_view Stmt::text_view(int c) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
  return p ? std::string_view(p, sqlite3_column_bytes(st_, c)) : std::string_view();
}
std::string_view Stmt::blob_view(int c) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(st_, c));
  return p ? std::string_view(p, sqlite3_column_bytes(st_, c)) : std::string_view();
}
std::string Stmt::text(int c) const { return std::string(text_view(c)); }
std::optional<int64_t> Stmt::opt_i64(int c) const {
  if (is_null(c)) return std::nullopt;
  return i64(c);
}
std::optional<std::string> Stmt::opt_text(int c) const {
  if (is_null(c)) return std::nullopt;
  return text(c);
}

namespace {

// A connection with extended result codes and a busy wait, or DbError.
sqlite3* open_connection(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection has one owning thread at a time, so SQLite's
  // own per-connection mutex would only cost time.
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    throw DbError(rc, "cannot open database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(raw, 1);
  // Readers and the writer meet on WAL; a short busy wait covers checkpoints.
  sqlite3_busy_timeout(raw, 5000);
  return raw;
}

}  // namespace

Db Db::open(const std::string& path, bool readonly) {
  Db db(open_connection(path, readonly ? SQLITE_OPEN_READONLY
                                       : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)));
  if (!readonly) {
    db.exec("PRAGMA journal_mode=WAL");
    // FULL: WAL commits are fsynced before they return. With NORMAL a power
    // cut may lose the last transactions, i.e. jobs already answered 202.
    db.exec("PRAGMA synchronous=FULL");
  }
  db.exec("PRAGMA foreign_keys=ON");
  return db;
}

Db Db::open_existing(const std::string& path) {
  return Db(open_connection(path, SQLITE_OPEN_READWRITE));
}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = o.db_;
    o.db_ = nullptr;
  }
  return *this;
}

Db::~Db() { sqlite3_close_v2(db_); }

void Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw DbError(rc, "sqlite: " + msg);
  }
}

int64_t Db::pragma_int(const char* name) {
  Stmt st(db_, std::string("PRAGMA ") + name);
  return st.step() ? st.i64(0) : 0;
}

Stmt& CachedDb::stmt(const char* sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(sql, db_.prepare(sql)).first;
  return it->second;
}

Tx::~Tx() {
  if (!done_) {
    // Best effort: after SQLITE_FULL SQLite may already have rolled back.
    sqlite3_exec(db_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace mlgate
