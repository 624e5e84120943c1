// db_file.hpp and the JobStore's side of it: a private data directory and
// database whatever the umask, a database made in one step, files deleted
// or replaced under an open store (writes refused, the WAL's commits kept),
// and read failures reported by failure().
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "clock.hpp"
#include "db_file.hpp"
#include "sqlite_job_store.hpp"
#include "schema.hpp"
#include "temp_dir.hpp"

using namespace mlgate;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const std::string& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Runs `fn` with the given umask, then restores the old one.
template <class F>
void with_umask(mode_t mask, F fn) {
  mode_t old = ::umask(mask);
  try {
    fn();
  } catch (...) {
    ::umask(old);
    throw;
  }
  ::umask(old);
}

NewJob job(const std::string& input = "some text to score") {
  NewJob nj;
  nj.owner = "alice";
  nj.key_id = "k";
  nj.input = input;
  return nj;
}

int64_t rows_in(const std::string& path) {
  Db db = Db::open_existing(path);
  Stmt st = db.prepare("SELECT count(*) FROM jobs");
  st.step();
  return st.i64(0);
}

}  // namespace

TEST_CASE("FileWatch: a deleted file and a replaced one are told apart; untouched files are fine") {
  testutil::TempDir d;
  std::string a = d.file("a"), b = d.file("b");
  std::ofstream(a) << "a";
  std::ofstream(b) << "b";
  FileWatch w({a, b, d.file("never-there")});
  CHECK_FALSE(w.check().has_value());
  // Kept open, as SQLite keeps its files: the old inode cannot be reused.
  int keep = ::open(b.c_str(), O_RDONLY);
  std::ofstream(d.file("b2")) << "b2";
  fs::rename(d.file("b2"), b);
  auto p = w.check();
  REQUIRE(p);
  CHECK(p->path == b);
  CHECK_FALSE(p->deleted);
  CHECK(p->describe() == "b was replaced");
  ::close(keep);
  fs::remove(a);
  p = w.check();
  REQUIRE(p);
  CHECK(p->path == a);
  CHECK(p->describe() == "a was deleted");
}

TEST_CASE("make_private_dir makes every directory it creates 0700, even with umask 0") {
  testutil::TempDir d;
  std::string dir = d.file("x/y/z");
  with_umask(0, [&] { make_private_dir(dir); });
  CHECK(mode_of(d.file("x")) == 0700);
  CHECK(mode_of(d.file("x/y")) == 0700);
  CHECK(mode_of(dir) == 0700);
  fs::permissions(dir, fs::perms(0750));
  make_private_dir(dir);  // an existing directory keeps its mode
  CHECK(mode_of(dir) == 0750);
  std::ofstream(d.file("file")) << "x";
  CHECK_THROWS_AS(make_private_dir(d.file("file/sub")), DbFileError);
}

TEST_CASE("a new database is created private and complete, with no file left behind") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  PreparedFile f;
  with_umask(0, [&] { f = prepare_database_file(path); });
  CHECK(f.created);
  CHECK(mode_of(path) == 0600);
  {
    Db db = Db::open_existing(path);
    CHECK_FALSE(schema_mismatch(db).has_value());
  }
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(d.path)) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"mlgate.db"});
  // A second start finds it and checks it.
  f = prepare_database_file(path);
  CHECK_FALSE(f.created);
}

TEST_CASE("an existing database readable by others is made private") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  prepare_database_file(path);
  ::chmod(path.c_str(), 0644);
  prepare_database_file(path);
  CHECK(mode_of(path) == 0600);
}

TEST_CASE("an empty file is refused and stays empty") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  std::ofstream(path).close();
  CHECK_THROWS_WITH_AS(prepare_database_file(path), doctest::Contains("is empty (0 bytes)"),
                       DbFileError);
  CHECK(fs::file_size(path) == 0);
}

TEST_CASE("the integrity check finds a corrupt page, and stops at its time limit") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  prepare_database_file(path);
  {
    Db db = Db::open(path);
    db.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) "
        "INSERT INTO jobs (uuid, owner, key_id, status, input, created_at) "
        "SELECT 'u' || i, 'o', 'k', 'completed', printf('%.200c', 'x'), i FROM n");
  }
  {
    IntegrityCheck quick(path, 1ms);
    auto r = quick.wait_for(60s);
    REQUIRE(r);
    CHECK_FALSE(r->complete);
    CHECK(r->problem.empty());
  }
  {
    IntegrityCheck full(path, 60s);
    auto r = full.wait_for(60s);
    REQUIRE(r);
    CHECK(r->complete);
    CHECK(r->problem.empty());
    MESSAGE("quick_check of 100,000 jobs of 200 characters: " << r->ms << " ms");
  }
  {
    IntegrityCheck gone(path, 60s);  // destroyed while it runs: interrupted, joined
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  int fd = ::open(path.c_str(), O_WRONLY);
  std::string junk(4096, '\xff');
  REQUIRE(::pwrite(fd, junk.data(), 4096, (st.st_size / 4096 / 2) * 4096) == 4096);
  ::close(fd);
  IntegrityCheck after(path, 60s);
  auto r = after.wait_for(60s);
  REQUIRE(r);
  CHECK(r->problem.find("Page ") != std::string::npos);
  CHECK(r->problem.find('\n') == std::string::npos);
}

TEST_CASE("a WAL deleted under an open store: the commits so far are copied into the database, later writes refused") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  prepare_database_file(path);
  SqliteJobStore s({path});
  for (int i = 0; i < 10; ++i) s.insert(job(), wall_ms());
  REQUIRE(fs::remove(path + "-wal"));
  CHECK(s.failure(wall_ms()).empty());  // not noticed until the writer looks
  // The next commit notices, copies the WAL into the database, and reports
  // success only because of that copy.
  CHECK(s.insert(job(), wall_ms()).outcome == InsertOutcome::Created);
  CHECK_THROWS_AS(s.insert(job(), wall_ms()), StorageUnavailable);
  CHECK(s.failure(wall_ms()).find("mlgate.db-wal was deleted") != std::string::npos);
  // What a crash now would leave: the database file alone holds all 11.
  fs::copy_file(path, d.file("after-crash.db"));
  CHECK(rows_in(d.file("after-crash.db")) == 11);
}

TEST_CASE("a database replaced under an open store: the commit that notices is refused, and every later one") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  prepare_database_file(path);
  SqliteJobStore s({path});
  s.insert(job(), wall_ms());
  fs::copy_file(path, d.file("copy.db"));
  fs::rename(d.file("copy.db"), path);
  CHECK_THROWS_AS(s.insert(job(), wall_ms()), StorageUnavailable);
  CHECK_THROWS_AS(s.insert(job(), wall_ms()), StorageUnavailable);
  CHECK(s.failure(wall_ms()).find("mlgate.db was replaced") != std::string::npos);
}

TEST_CASE("a read that finds a corrupt page makes failure() say so") {
  testutil::TempDir d;
  std::string path = d.file("mlgate.db");
  prepare_database_file(path);
  {
    SqliteJobStore s({path});
    for (int i = 0; i < 300; ++i) s.insert(job(std::string(300, 'y')), wall_ms());
  }  // closed: everything is in the main file
  SqliteJobStore s({path});
  CHECK(s.failure(wall_ms()).empty());
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  int fd = ::open(path.c_str(), O_WRONLY);
  std::string junk(4096, '\xff');
  for (off_t off = 4096; off < st.st_size; off += 4096) REQUIRE(::pwrite(fd, junk.data(), 4096, off) == 4096);
  ::close(fd);
  CHECK_THROWS_AS(s.list("alice", std::nullopt, 100, std::nullopt), StorageUnavailable);
  CHECK(s.failure(wall_ms()).find("corrupt") != std::string::npos);
  // Corruption does not heal by itself: still reported a minute later.
  CHECK(s.failure(wall_ms() + 60'000).find("corrupt") != std::string::npos);
}
