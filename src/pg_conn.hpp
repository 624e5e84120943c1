// pg_conn.hpp: one PostgreSQL connection (libpq), with a deadline on every
// call, and a small pool of them.
//
// Why deadlines: libpq's blocking calls wait as long as the server takes,
// and a PostgreSQL that is hung (stopped, a network partition) would hold a
// request thread forever. Every call here is sent asynchronously and waited
// for with poll() up to a deadline; past it the connection is closed (the
// server ends the query when it sees the socket go) and the call throws.
//
// Errors, in the store layer's one style: a database that cannot answer
// (down, unreachable, timed out, restarted) throws StorageUnavailable (from
// job_store.hpp) with PgError's detail; an SQL error from a healthy server
// (a constraint, a syntax error: a bug or a schema problem) throws PgError
// with its SQLSTATE. Both leave the connection usable or marked broken.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace mlgate {

struct PgError : std::runtime_error {
  PgError(std::string sqlstate, const std::string& what)
      : std::runtime_error(what), sqlstate(std::move(sqlstate)) {}
  std::string sqlstate;  // "" when the failure is the connection's
};

// Throws StorageUnavailable("PostgreSQL: " + the error): what the stores
// make of an SQL error from a server that answers (a schema changed by
// hand, a busy database): nothing the caller can fix, and the service
// cannot answer either, so the same 503 as a database that is down.
[[noreturn]] void throw_unavailable(const PgError& e);

// A result set, owned. Values are text (the libpq text format).
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* r);
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  ~PgResult();

  int rows() const;
  bool null(int row, int col) const;
  std::string str(int row, int col) const;
  int64_t i64(int row, int col) const;
  double f64(int row, int col) const;
  std::optional<std::string> opt_str(int row, int col) const;
  std::optional<int64_t> opt_i64(int row, int col) const;

 private:
  PGresult* r_ = nullptr;
};

// A query parameter: text, or NULL.
using PgParam = std::optional<std::string>;

struct PgOptions {
  std::string conninfo;  // a postgresql:// URL or "key=value" conninfo
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds query_timeout{5000};
};

class PgConn {
 public:
  // Connects within opt.connect_timeout; throws StorageUnavailable.
  explicit PgConn(const PgOptions& opt);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement with $1.. parameters and waits for its result up to
  // the query timeout (or `timeout`, when given).
  PgResult exec(std::string_view sql, const std::vector<PgParam>& params = {},
                std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // exec() for the statements run many times a second (inserts, claims,
  // outcomes, reads by id): prepared once per connection, on first use, so
  // the server parses and plans the text once, not on every call. `sql`
  // must be a fixed text (it is the cache key; the cache lives and dies
  // with the connection).
  PgResult exec_prepared(const std::string& sql, const std::vector<PgParam>& params);

  // False once a call found the connection broken: the pool drops it.
  bool ok() const { return conn_ != nullptr; }
  PGconn* raw() { return conn_; }
  int socket() const;
  // Notifications received so far ("channel", "payload"), taken out.
  std::vector<std::pair<std::string, std::string>> take_notifications();
  // Reads whatever arrived on the socket (notifications) without sending.
  void consume_input();

 private:
  [[noreturn]] void broken(const std::string& why);
  void wait_socket(bool for_write, std::chrono::steady_clock::time_point deadline);
  // After a PQsend*: flushes, waits for every result up to `deadline`,
  // returns the last and throws for the first error.
  PgResult collect(std::chrono::steady_clock::time_point deadline);

  PgOptions opt_;
  PGconn* conn_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;  // statement text -> name
};

// fn(c) between `begin` and COMMIT; when fn throws, ROLLBACK (on a
// connection that is still up) and the exception goes on.
template <class F>
auto pg_transaction(PgConn& c, F&& fn, const char* begin = "BEGIN") {
  c.exec(begin);
  try {
    if constexpr (std::is_void_v<decltype(fn(c))>) {
      fn(c);
      c.exec("COMMIT");
    } else {
      auto r = fn(c);
      c.exec("COMMIT");
      return r;
    }
  } catch (...) {
    if (c.ok()) {
      try {
        c.exec("ROLLBACK");
      } catch (...) {
        // The connection broke now: the server rolls back by itself.
      }
    }
    throw;
  }
}

// Connections for any thread: take one, use it, give it back. At most
// `max` exist; a caller finding none idle waits up to the query timeout.
// A connection that broke is dropped and a new one made on the next take.
class PgPool {
 public:
  PgPool(PgOptions opt, size_t max);
  ~PgPool();

  class Lease {
   public:
    Lease(PgPool& pool, std::unique_ptr<PgConn> c) : pool_(&pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept = default;
    ~Lease();
    PgConn& operator*() { return *c_; }
    PgConn* operator->() { return c_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> c_;
  };
  Lease take();
  // fn(conn) inside BEGIN ... COMMIT on a pooled connection (pg_transaction).
  template <class F>
  auto tx(F&& fn) {
    Lease c = take();
    return pg_transaction(*c, std::forward<F>(fn));
  }
  const PgOptions& options() const { return opt_; }

 private:
  void give_back(std::unique_ptr<PgConn> c);

  PgOptions opt_;
  size_t max_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable_any cv_;
  std::vector<std::unique_ptr<PgConn>> idle_;
  size_t open_ = 0;  // connections made and not dropped (idle or leased)
};

// A one-dimensional array literal ({"a","b\"c",NULL} for a, b"c and NULL) for a text[] or
// numeric array parameter: one statement then carries a whole batch
// (unnest), one round trip instead of one per row. Every element is quoted
// and escaped, so any text is data, never syntax.
std::string pg_array(const std::vector<PgParam>& items);
// The same for integers ({1,2,3}: nothing to quote), for a bigint[] parameter.
std::string pg_array(const std::vector<int64_t>& items);

// "" when libpq accepts `conninfo` (URL or key=value), else why not.
std::string pg_conninfo_error(const std::string& conninfo);

}  // namespace mlgate
