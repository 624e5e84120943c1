#include "pg_conn.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdlib>

#include "job_store.hpp"  // StorageUnavailable
#include "pg_api.hpp"

namespace mlgate {

void throw_unavailable(const PgError& e) { throw StorageUnavailable(std::string("PostgreSQL: ") + e.what()); }

using Clock = std::chrono::steady_clock;

// libpq, loaded on first use (pg_api.hpp).
inline const PgApi& pq() { return pg_api(); }

// ---- PgResult

PgResult::PgResult(PGresult* r) : r_(r) {}
PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) pq().PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
PgResult::~PgResult() {
  if (r_) pq().PQclear(r_);
}
int PgResult::rows() const { return r_ ? pq().PQntuples(r_) : 0; }
bool PgResult::null(int row, int col) const { return pq().PQgetisnull(r_, row, col) != 0; }
std::string PgResult::str(int row, int col) const {
  return std::string(pq().PQgetvalue(r_, row, col), static_cast<size_t>(pq().PQgetlength(r_, row, col)));
}
int64_t PgResult::i64(int row, int col) const { return std::strtoll(pq().PQgetvalue(r_, row, col), nullptr, 10); }
double PgResult::f64(int row, int col) const { return std::strtod(pq().PQgetvalue(r_, row, col), nullptr); }
std::optional<std::string> PgResult::opt_str(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return str(row, col);
}
std::optional<int64_t> PgResult::opt_i64(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return i64(row, col);
}

// ---- PgConn

namespace {

std::string one_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}

// libpq's view of the parameters: C strings, NULL for a NULL.
std::vector<const char*> param_values(const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  return values;
}

}  // namespace

PgConn::PgConn(const PgOptions& opt) : opt_(opt) {
  const auto deadline = Clock::now() + opt_.connect_timeout;
  conn_ = pq().PQconnectStart(opt_.conninfo.c_str());
  if (!conn_) throw StorageUnavailable("PostgreSQL: out of memory connecting");
  if (pq().PQstatus(conn_) == CONNECTION_BAD) broken("cannot connect: " + one_line(pq().PQerrorMessage(conn_)));
  // The poll loop libpq documents for PQconnectStart: wait for what the
  // last step asked (readable or writable), within our own deadline.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) broken("cannot connect: " + one_line(pq().PQerrorMessage(conn_)));
    wait_socket(st == PGRES_POLLING_WRITING, deadline);
    st = pq().PQconnectPoll(conn_);
  }
  if (pq().PQsetnonblocking(conn_, 1) != 0) broken("cannot set non-blocking mode");
  // The server's NOTICEs ("relation already exists, skipping") are for a
  // person at psql; libpq would print them on our standard error.
  pq().PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  // Times are integers, text is UTF-8, and the server never waits on a
  // lock longer than our own deadline would let us wait for it.
  exec("SET client_encoding = 'UTF8'; SET lock_timeout = " +
       std::to_string(opt_.query_timeout.count()) + "; SET idle_in_transaction_session_timeout = " +
       std::to_string(std::max<int64_t>(opt_.query_timeout.count() * 4, 10000)));
}

PgConn::~PgConn() {
  if (conn_) pq().PQfinish(conn_);
}

int PgConn::socket() const { return conn_ ? pq().PQsocket(conn_) : -1; }

void PgConn::broken(const std::string& why) {
  if (conn_) {
    pq().PQfinish(conn_);
    conn_ = nullptr;
  }
  throw StorageUnavailable("PostgreSQL: " + why);
}

void PgConn::wait_socket(bool for_write, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) broken("no answer within the timeout");
    pollfd p{pq().PQsocket(conn_), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    if (p.fd < 0) broken("connection lost");
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n > 0) return;
    if (n < 0 && errno != EINTR) broken("poll failed");
  }
}

PgResult PgConn::exec(std::string_view sql, const std::vector<PgParam>& params,
                      std::optional<std::chrono::milliseconds> timeout) {
  if (!conn_) throw StorageUnavailable("PostgreSQL: connection lost");
  const auto deadline = Clock::now() + timeout.value_or(opt_.query_timeout);
  const std::vector<const char*> values = param_values(params);
  const std::string text(sql);
  int sent = params.empty()
                 ? pq().PQsendQuery(conn_, text.c_str())
                 : pq().PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                     values.data(), nullptr, nullptr, 0);
  if (!sent) broken(one_line(pq().PQerrorMessage(conn_)));
  return collect(deadline);
}

PgResult PgConn::exec_prepared(const std::string& sql, const std::vector<PgParam>& params) {
  if (!conn_) throw StorageUnavailable("PostgreSQL: connection lost");
  const auto deadline = Clock::now() + opt_.query_timeout;
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = "mlgate_" + std::to_string(prepared_.size());
    if (!pq().PQsendPrepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr))
      broken(one_line(pq().PQerrorMessage(conn_)));
    collect(deadline);  // throws when the text does not prepare
    it = prepared_.emplace(sql, name).first;
  }
  const std::vector<const char*> values = param_values(params);
  if (!pq().PQsendQueryPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), values.data(),
                                nullptr, nullptr, 0))
    broken(one_line(pq().PQerrorMessage(conn_)));
  return collect(deadline);
}

PgResult PgConn::collect(Clock::time_point deadline) {
  // Non-blocking mode: flush what is queued, waiting for the socket.
  for (;;) {
    int f = pq().PQflush(conn_);
    if (f == 0) break;
    if (f < 0) broken(one_line(pq().PQerrorMessage(conn_)));
    wait_socket(true, deadline);
    if (!pq().PQconsumeInput(conn_)) broken(one_line(pq().PQerrorMessage(conn_)));
  }
  // Collect every result; keep the last, report the first error.
  PgResult last;
  std::optional<PgError> error;
  for (;;) {
    while (pq().PQisBusy(conn_)) {
      wait_socket(false, deadline);
      if (!pq().PQconsumeInput(conn_)) broken(one_line(pq().PQerrorMessage(conn_)));
    }
    PGresult* r = pq().PQgetResult(conn_);
    if (!r) break;
    ExecStatusType s = pq().PQresultStatus(r);
    if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE || s == PGRES_NONFATAL_ERROR) {
      const char* state = pq().PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (!error) error.emplace(state ? state : "", one_line(pq().PQresultErrorMessage(r)));
      pq().PQclear(r);
      continue;
    }
    last = PgResult(r);
  }
  if (pq().PQstatus(conn_) == CONNECTION_BAD) broken("connection lost");
  if (error) {
    // Class 08 (connection exception), 57P (operator intervention: the
    // server shutting down or restarting), 53 (insufficient resources):
    // the database cannot answer now, not a wrong statement.
    const std::string& st = error->sqlstate;
    if (st.empty() || st.rfind("08", 0) == 0 || st.rfind("57P", 0) == 0 || st.rfind("53", 0) == 0)
      broken(error->what());
    // 55P03 lock_not_available (lock_timeout), 57014 query_canceled
    // (statement_timeout), 40001/40P01 (serialization, deadlock): busy.
    if (st == "55P03" || st == "57014" || st == "40001" || st == "40P01")
      throw_unavailable(*error);
    throw *error;
  }
  return last;
}

void PgConn::consume_input() {
  if (!conn_) throw StorageUnavailable("PostgreSQL: connection lost");
  if (!pq().PQconsumeInput(conn_)) broken(one_line(pq().PQerrorMessage(conn_)));
}

std::vector<std::pair<std::string, std::string>> PgConn::take_notifications() {
  std::vector<std::pair<std::string, std::string>> out;
  if (!conn_) return out;
  while (PGnotify* n = pq().PQnotifies(conn_)) {
    out.emplace_back(n->relname ? n->relname : "", n->extra ? n->extra : "");
    pq().PQfreemem(n);
  }
  return out;
}

// ---- PgPool

PgPool::PgPool(PgOptions opt, size_t max) : opt_(std::move(opt)), max_(std::max<size_t>(1, max)) {}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (pool_ && c_) pool_->give_back(std::move(c_));
}

PgPool::Lease PgPool::take() {
  std::unique_lock lock(mu_);
  const auto deadline = Clock::now() + opt_.query_timeout;
  for (;;) {
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(c));
    }
    if (open_ < max_) {
      ++open_;
      lock.unlock();
      try {
        return Lease(*this, std::make_unique<PgConn>(opt_));
      } catch (...) {
        lock.lock();
        --open_;
        cv_.notify_one();
        throw;
      }
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout)
      throw StorageUnavailable("PostgreSQL: every connection busy for the whole timeout");
  }
}

void PgPool::give_back(std::unique_ptr<PgConn> c) {
  std::lock_guard lock(mu_);
  if (c->ok() && pq().PQtransactionStatus(c->raw()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // broken, or left inside a transaction: dropped
  }
  cv_.notify_one();
}

std::string pg_array(const std::vector<PgParam>& items) {
  std::string a = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) a += ',';
    if (!items[i]) {
      a += "NULL";
      continue;
    }
    a += '"';
    for (char ch : *items[i]) {
      if (ch == '"' || ch == '\\') a += '\\';
      a += ch;
    }
    a += '"';
  }
  return a + "}";
}

std::string pg_array(const std::vector<int64_t>& items) {
  std::string a = "{";
  for (size_t i = 0; i < items.size(); ++i) a += (i ? "," : "") + std::to_string(items[i]);
  return a + "}";
}

std::string pg_conninfo_error(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = pq().PQconninfoParse(conninfo.c_str(), &err);
  std::string out;
  if (!opts) out = err ? one_line(err) : "not a connection string libpq accepts";
  if (opts) pq().PQconninfoFree(opts);
  if (err) pq().PQfreemem(err);
  return out;
}

}  // namespace mlgate
