// The database file when something outside mlgate goes wrong with it: an
// empty, foreign or corrupt file at start-up, pages corrupted while the
// server runs, the WAL or the database deleted or replaced under a running
// server, and the modes of the files it creates.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "db.hpp"
#include "harness.hpp"
#include "harness_faults.hpp"

using namespace e2e;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// `mlgate serve` on `dir`, expected to refuse: its status and its stderr.
CliResult serve_on(const std::string& dir) {
  return run_cli({"serve", "--port", "0", "--data-dir", dir});
}

void check_refused(const CliResult& r, const std::string& why) {
  CAPTURE(r.err);
  CHECK(r.status == 1);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // one line, nothing else
  CHECK(r.err.find(why) != std::string::npos);
}

// Overwrites pages [first, last] of the database file with 0xff bytes.
void corrupt_pages(const std::string& db, int64_t first, int64_t last) {
  int fd = ::open(db.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  std::string junk(4096, '\xff');
  for (int64_t p = first; p <= last; ++p)
    REQUIRE(::pwrite(fd, junk.data(), junk.size(), (p - 1) * 4096) == 4096);
  ::fsync(fd);
  ::close(fd);
}

int64_t page_count(const std::string& db) {
  struct stat st {};
  REQUIRE(::stat(db.c_str(), &st) == 0);
  return st.st_size / 4096;
}

// A data directory whose database holds `n` finished jobs of alice's,
// written by a real server and stopped cleanly (so all of it is in mlgate.db).
std::string filled_dir(const TempDir& t, int n, std::string& key) {
  std::string dir = (t.path / "data").string();
  ServerProc s(kFast, dir);
  key = s.create_key("a", {"--owner", "alice", "--tier", "fast"});
  auto c = s.client();
  c.set_keep_alive(true);
  std::string last;
  const std::string pad(400, 'x');
  for (int i = 0; i < n; ++i) {
    auto r = post_predict(c, key, "A good job number " + std::to_string(i) + " " + pad);
    REQUIRE(r);
    REQUIRE(r->status == 202);
    last = json::parse(r->body)["job_uuid"];
  }
  REQUIRE(wait_finished(c, key, last)["status"] == "completed");
  s.signal(SIGTERM);
  REQUIRE(s.wait_exit() == 0);
  return dir;
}

json health(const ServerProc& s, int& status) {
  auto r = s.client().Get("/health");
  REQUIRE(r);
  status = r->status;
  return json::parse(r->body);
}

// Polls /health until it answers 503 or `timeout` passes.
json wait_unhealthy(const ServerProc& s, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  json h;
  while (std::chrono::steady_clock::now() < deadline) {
    h = health(s, status);
    if (status == 503) return h;
    std::this_thread::sleep_for(20ms);
  }
  return h;
}

}  // namespace

TEST_CASE("a 0-byte mlgate.db is refused with one line, and left as it was") {
  TempDir t;
  std::string dir = (t.path / "data").string();
  fs::create_directory(dir);
  std::ofstream(dir + "/mlgate.db").close();
  check_refused(serve_on(dir), "is empty (0 bytes)");
  CHECK(fs::file_size(dir + "/mlgate.db") == 0);
  CHECK_FALSE(fs::exists(dir + "/mlgate.db-wal"));
}

TEST_CASE("a file that is not SQLite is refused, and left as it was") {
  TempDir t;
  std::string dir = (t.path / "data").string();
  fs::create_directory(dir);
  const std::string text = "this was a log file, copied to the wrong place\n" + std::string(5000, 'z');
  std::ofstream(dir + "/mlgate.db") << text;
  check_refused(serve_on(dir), "is not an SQLite database");
  CHECK(slurp(dir + "/mlgate.db") == text);
}

TEST_CASE("an SQLite database that is not mlgate's is refused, and left as it was") {
  TempDir t;
  std::string dir = (t.path / "data").string();
  fs::create_directory(dir);
  {
    mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db");
    db.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')");
  }
  std::string before = slurp(dir + "/mlgate.db");
  check_refused(serve_on(dir), "without mlgate's schema");
  CHECK(slurp(dir + "/mlgate.db") == before);

  // One with the right version number but not mlgate's tables.
  {
    mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db");
    db.exec("PRAGMA user_version=1");
  }
  check_refused(serve_on(dir), "without mlgate's table");
}

TEST_CASE("a database missing beside its WAL is refused rather than made anew") {
  TempDir t;
  std::string key;
  std::string dir = filled_dir(t, 3, key);
  fs::rename(dir + "/mlgate.db", dir + "/elsewhere.db");
  std::ofstream(dir + "/mlgate.db-wal") << std::string(4096, 'w');  // what a crash would leave
  check_refused(serve_on(dir), "mlgate.db-wal is there");
  CHECK_FALSE(fs::exists(dir + "/mlgate.db"));
}

TEST_CASE("a database with corrupt pages is refused at start-up by the integrity check") {
  TempDir t;
  std::string key;
  std::string dir = filled_dir(t, 200, key);
  std::string db = dir + "/mlgate.db";
  int64_t pages = page_count(db);
  REQUIRE(pages > 20);
  corrupt_pages(db, pages / 2, pages / 2 + 2);  // the header and schema stay valid
  check_refused(serve_on(dir), "is corrupt");
}

TEST_CASE("pages corrupted while the server runs: the failed reads make /health 503 with the reason") {
  TempDir t;
  std::string key;
  std::string dir = filled_dir(t, 200, key);
  ServerProc s(kFast, dir);  // passes its start-up check
  auto c = s.client();
  int status = 0;
  health(s, status);
  REQUIRE(status == 200);

  // Every page but the first (header and schema): the jobs and their index.
  corrupt_pages(dir + "/mlgate.db", 2, page_count(dir + "/mlgate.db"));
  auto list = c.Get("/jobs?limit=100", {{"X-API-Key", key}});
  REQUIRE(list);
  CHECK(list->status == 503);
  json h = health(s, status);
  CHECK(status == 503);
  CHECK(h["database"] == "failing");
  CHECK(h["reason"].get<std::string>().find("corrupt") != std::string::npos);
}

TEST_CASE("a database too big to check before serving is checked while serving; corruption then makes /health 503") {
  TempDir t;
  std::string key;
  std::string dir = filled_dir(t, 1, key);
  std::string db = dir + "/mlgate.db";
  {
    mlgate::Db d = mlgate::Db::open(db);
    d.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) "
        "INSERT INTO jobs (uuid, owner, key_id, status, input, created_at) "
        "SELECT 'bulk-' || i, 'bulk', 'k', 'completed', printf('%.150c', 'x'), i FROM n");
  }
  int64_t pages = page_count(db);
  corrupt_pages(db, pages - pages / 10, pages - pages / 10);
  // A slow disk (every read of the file waits 1 ms; the shim, tests/faults):
  // the check of these ~3,000 pages then outlasts start-up's wait (1 s) on
  // any machine. Without it a fast machine checked a file of 130 MB within
  // the wait, and the path under test was never taken.
  Faults faults;
  faults.arm("ops=read match=mlgate.db delay_us=1000");
  ServerProc s(kFast, dir);
  CHECK(faults.injected() > 0);
  CHECK(s.log().find("database check continues while serving") != std::string::npos);
  json h = wait_unhealthy(s, 60s);
  CHECK(h["database"] == "failing");
  CHECK(h["reason"].get<std::string>().find("corrupt") != std::string::npos);
  CHECK(s.log().find("database is corrupt") != std::string::npos);
}

TEST_CASE("the WAL deleted under load: 503s with Retry-After, /health names it, and after a SIGKILL no 202 is lost") {
  ServerProc s(with(kFast, {"--workers", "1"}));
  std::string key = s.create_key("wal", {"--tier", "fast"});
  Load load(s.port(), key, 4);
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (load.accepted_count() < 300 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(load.accepted_count() >= 300);
  REQUIRE(fs::remove(s.dir() + "/mlgate.db-wal"));

  deadline = std::chrono::steady_clock::now() + 10s;
  while (load.unavailable_count() < 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(load.unavailable_count() >= 20);
  CHECK(load.unavailable_without_retry_after() == 0);
  json h = wait_unhealthy(s);
  CHECK(h["database"] == "failing");
  CHECK(h["reason"].get<std::string>().find("mlgate.db-wal was deleted") != std::string::npos);
  // Nothing is accepted once it is noticed (after answers already on
  // their way when /health said so have arrived).
  std::this_thread::sleep_for(300ms);
  size_t settled = load.accepted_count();
  std::this_thread::sleep_for(300ms);
  CHECK(load.accepted_count() == settled);

  s.signal(SIGKILL);
  REQUIRE(s.wait_exit() == 128 + SIGKILL);
  load.stop();
  auto accepted = load.accepted();
  MESSAGE(accepted.size() << " jobs answered 202, " << load.unavailable_count() << " 503s");

  s.start();
  auto c = s.client();
  c.set_keep_alive(true);
  size_t missing = 0;
  for (auto& id : accepted) {
    auto r = c.Get("/jobs/" + id, {{"X-API-Key", key}});
    missing += !r || r->status != 200;
  }
  CHECK(missing == 0);
  int status = 0;
  health(s, status);
  CHECK(status == 200);
}

TEST_CASE("the database replaced under a running server: writes refused, /health names it") {
  ServerProc s(kFast);
  std::string key = s.create_key("a", {"--tier", "fast"});
  auto c = s.client();
  REQUIRE(post_predict(c, key)->status == 202);
  // What a restore from backup by hand looks like: a copy moved over the file.
  fs::copy_file(s.dir() + "/mlgate.db", s.dir() + "/restored.db");
  fs::rename(s.dir() + "/restored.db", s.dir() + "/mlgate.db");
  auto r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->has_header("Retry-After"));
  json h = wait_unhealthy(s);
  CHECK(h["reason"].get<std::string>().find("mlgate.db was replaced") != std::string::npos);
}

TEST_CASE("the data directory is 0700 and the database, -wal and -shm 0600, whatever the umask") {
  mode_t old = ::umask(0);
  ServerProc s(kFast);
  ::umask(old);
  std::string key = s.create_key("a", {"--tier", "fast"});
  auto c = s.client();
  REQUIRE(post_predict(c, key)->status == 202);  // the WAL and -shm exist now
  auto mode = [](const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  CHECK(mode(s.dir()) == 0700);
  for (const char* f : {"/mlgate.db", "/mlgate.db-wal", "/mlgate.db-shm"}) {
    CAPTURE(f);
    CHECK(mode(s.dir() + f) == 0600);
  }
}
