#include "harness_pg.hpp"

#include "harness_child.hpp"
#include "harness_port.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace test {
namespace fs = std::filesystem;

namespace {

// Debian installs the server programs outside PATH, per major version.
std::string find_pg_bin() {
  for (const char* dir : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"})
    if (access((std::string(dir) + "/postgres").c_str(), X_OK) == 0 &&
        access((std::string(dir) + "/initdb").c_str(), X_OK) == 0)
      return dir;
  return "";
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `cmd` with sh; returns its standard output; throws with its output
// when it fails.
std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  if (st != 0) throw std::runtime_error("command failed: " + cmd + ": " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

bool PgServer::available() {
  static const bool ok = [] {
#if MLGATE_HAVE_LIBPQ
    if (!find_pg_bin().empty()) return true;
    std::cerr << "SKIPPED: PostgreSQL 15 is not installed (scripts/deps.sh installs it); "
                 "the PostgreSQL tests are skipped\n";
#else
    std::cerr << "SKIPPED: mlgate was built without libpq; the PostgreSQL tests are skipped\n";
#endif
    return false;
  }();
  return ok;
}

PgServer::PgServer() : PgServer(static_cast<const PgTls*>(nullptr)) {}

PgServer::PgServer(const PgTls& tls) : PgServer(&tls) {}

PgServer::PgServer(const PgTls* tls) {
  bin_ = find_pg_bin();
  if (bin_.empty()) throw std::runtime_error("PostgreSQL server programs not found");
  std::random_device rd;
  for (;;) {
    dir_ = fs::temp_directory_path() / ("mlgate-pg-" + std::to_string(rd()));
    if (fs::create_directory(dir_)) break;
  }
  if (geteuid() == 0) {
    // initdb and postgres refuse root: the cluster is the postgres user's.
    owner_ = getpwnam("postgres") ? "postgres" : "nobody";
    const passwd* pw = getpwnam(owner_.c_str());
    if (!pw || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("cannot give " + dir_.string() + " to " + owner_);
  }
  chmod(dir_.c_str(), 0700);
  // fsync off: these clusters live for one test run; what the tests check
  // is mlgate's behaviour, and a crash test kills mlgate, not the kernel.
  run_as_owner(bin_ + "/initdb -D " + quote((dir_ / "data").string()) +
               " -U mlgate --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null");
  if (tls) serve_tls(*tls);
  start();
}

void PgServer::serve_tls(const PgTls& tls) {
  tls_ = true;
  port_ = free_loopback_port();
  // PostgreSQL refuses a key file anyone but its owner can read, and
  // wants it owned by the user it runs as.
  for (const auto& [from, to] : {std::pair{tls.cert, "server.crt"}, std::pair{tls.key, "server.key"}}) {
    const fs::path dest = dir_ / "data" / to;
    fs::copy_file(from, dest, fs::copy_options::overwrite_existing);
    chmod(dest.c_str(), 0600);
    if (!owner_.empty()) {
      const passwd* pw = getpwnam(owner_.c_str());
      if (!pw || chown(dest.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("cannot give " + dest.string() + " to " + owner_);
    }
  }
}

std::string PgServer::tls_url(const std::string& db, const std::string& root_cert) const {
  return "postgresql://mlgate@127.0.0.1:" + std::to_string(port_) + "/" + db +
         "?sslmode=verify-full&sslrootcert=" + root_cert;
}

PgServer::~PgServer() {
  try {
    stop();
  } catch (...) {
    kill();
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

PgServer& PgServer::shared() {
  static std::unique_ptr<PgServer> server;
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (!server) server = std::make_unique<PgServer>();
  return *server;
}

std::string PgServer::run_as_owner(const std::string& cmd) const {
  if (owner_.empty()) return shell(cmd);
  return shell("runuser -u " + owner_ + " -- sh -c " + quote(cmd));
}

void PgServer::start() {
  const std::string data = (dir_ / "data").string();
  std::vector<std::string> args = {
      bin_ + "/postgres", "-D", data, "-k", dir_.string(), "-p", std::to_string(port_),
      "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=200",
      "-c", "shared_buffers=16MB", "-c", "log_min_messages=fatal"};
  if (tls_)
    args.insert(args.end(), {"-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c",
                             "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"});
  // setpriv execs (runuser would fork and sit between us and the
  // postmaster): pid_ is the postmaster itself.
  if (!owner_.empty())
    args.insert(args.begin(), {"setpriv", "--reuid=" + owner_, "--regid=" + owner_,
                               "--clear-groups", "--pdeathsig", "SIGKILL", "--"});
  // As root, setpriv sets the death signal again after changing user
  // (which clears the one start_child sets).
  pid_ = start_child(std::move(args), (dir_ / "server.log").string());
  const bool up = wait_answering(pid_, std::chrono::seconds(30), std::chrono::milliseconds(50), [&] {
    try {
      sql("SELECT 1");
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }, "postgres exited at start; see " + (dir_ / "server.log").string());
  if (up) return;
  kill();
  throw std::runtime_error("postgres did not answer within 30 s");
}

void PgServer::stop() {
  if (pid_ <= 0) return;
  // SIGINT to the postmaster: fast shutdown.
  ::kill(pid_, SIGINT);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void PgServer::kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  // A killed postmaster's children notice and exit; wait for the socket's
  // lock file to be free so that start() can bind again.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

std::string PgServer::create_database() {
  const std::string name = "mlgate_test_" + std::to_string(++databases_);
  sql("CREATE DATABASE " + name);
  return name;
}

std::string PgServer::conninfo(const std::string& db) const {
  return "host=" + dir_.string() + " port=" + std::to_string(port_) + " user=mlgate dbname=" + db;
}

std::string PgServer::url(const std::string& db) const {
  return "postgresql://mlgate@/" + db + "?host=" + dir_.string() + "&port=" + std::to_string(port_);
}

std::string PgServer::sql(const std::string& statement, const std::string& db) const {
  // psql from the client package (in PATH); as root it connects over the
  // socket like any client (trust authentication, user mlgate).
  return shell("psql -X -q -t -A -v ON_ERROR_STOP=1 " + quote(conninfo(db)) + " -c " + quote(statement));
}

}  // namespace test
