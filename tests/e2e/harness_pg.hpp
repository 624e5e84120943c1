// harness_pg.hpp: a real PostgreSQL 15 for tests (unit and end-to-end).
//
// Each PgServer is a cluster made by initdb in its own temporary directory,
// served on a Unix socket in that directory only (no TCP port), with trust
// authentication for the one user "mlgate". PostgreSQL refuses to run as
// root, and CI runs as root: then the cluster belongs to, and the server
// runs as, the unprivileged "postgres" system user (Debian's packages make
// it; "nobody" otherwise) through runuser.
//
// Tests can stop it (fast shutdown), kill it, start it again on the same
// files, and make fresh databases. When PostgreSQL 15 is not installed, or
// mlgate was built without libpq, the tests that need it are skipped with a
// visible "SKIPPED" line: `TEST_CASE("..." * test::needs_pg())`.
#pragma once

#include <doctest/doctest.h>
#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>

namespace test {

// Serve TLS too, on a loopback TCP port, with this certificate and key
// (PEM files; the server gets its own copies, owned by its user).
struct PgTls {
  std::string cert, key;
};

class PgServer {
 public:
  // PostgreSQL's server programs are installed and this build has libpq.
  // Prints one "SKIPPED" line on standard error the first time it is false.
  static bool available();

  // initdb, then start(). Throws std::runtime_error if it cannot.
  PgServer();
  explicit PgServer(const PgTls& tls);
  ~PgServer();  // stops the server, removes the directory
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // One server for the whole test process (made on first use), for tests
  // that only need databases, not to stop the server.
  static PgServer& shared();

  // A new empty database; returns its name.
  std::string create_database();
  // The URL mlgate takes for database `db` (postgresql://...?host=SOCKETDIR).
  std::string url(const std::string& db) const;
  // libpq conninfo for `db` ("host=... port=... user=... dbname=...").
  std::string conninfo(const std::string& db) const;
  // With PgTls: a URL for `db` over TCP on 127.0.0.1 with
  // sslmode=verify-full and `root_cert` as the certificate authority.
  std::string tls_url(const std::string& db, const std::string& root_cert) const;

  void stop();   // fast shutdown (clients disconnected), waits for the exit
  void kill();   // SIGKILL of the postmaster: a crash
  void start();  // again after stop() or kill(), same files and socket

  // One SQL statement through psql on the maintenance database "postgres"
  // or `db`; standard output, trimmed. Throws std::runtime_error on failure.
  std::string sql(const std::string& statement, const std::string& db = "postgres") const;

 private:
  explicit PgServer(const PgTls* tls);  // initdb, TLS files when given, start()
  void serve_tls(const PgTls& tls);     // before the first start()
  std::string run_as_owner(const std::string& cmd) const;  // sh -c, as the cluster's owner
  std::filesystem::path dir_;
  std::string bin_, owner_;
  int port_ = 5432;  // names the socket file; the TCP port too with TLS
  bool tls_ = false;  // also listening on 127.0.0.1:port_ with ssl=on
  int databases_ = 0;
  pid_t pid_ = -1;
};

inline doctest::skip needs_pg() { return doctest::skip(!PgServer::available()); }

}  // namespace test
