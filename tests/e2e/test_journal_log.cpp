// Log priorities reach the journal: when standard error is the stream that
// JOURNAL_STREAM names (as systemd sets it for a unit whose output goes to
// the journal), every line starts with its syslog priority, "<N>"
// (sd-daemon(3)), so `journalctl -p warning` shows warnings and errors
// only; anywhere else lines stay plain JSON.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "db.hpp"
#include "harness.hpp"
#include "harness_sh.hpp"

using namespace e2e;

namespace {

std::string stream_id(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

// A data directory whose saved rate-limit state is garbage: the server
// warns ("saved rate-limit state unreadable") and starts empty.
std::string data_with_bad_limiter_state(const TempDir& t) {
  std::string dir = (t.path / "data").string();
  REQUIRE(run_cli({"keys", "create", "--init", "--name", "x", "--data-dir", dir}).status == 0);
  mlgate::Db db = mlgate::Db::open(dir + "/mlgate.db");
  db.exec("INSERT INTO limiter_state (id, saved_at, data) VALUES (1, 0, x'00')");
  return dir;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

}  // namespace

TEST_CASE("on the journal's stream, each log line carries its priority: <4> warnings, <6> info") {
  TempDir t;
  std::string dir = data_with_bad_limiter_state(t);
  std::ofstream(dir + ".log").flush();  // the harness appends to this file: same inode
  ::setenv("JOURNAL_STREAM", stream_id(dir + ".log").c_str(), 1);
  ServerProc s({}, dir);
  ::unsetenv("JOURNAL_STREAM");
  auto c = s.client();
  REQUIRE(c.Get("/"));
  s.signal(SIGTERM);
  REQUIRE(s.wait_exit() == 0);

  int warnings = 0, infos = 0;
  for (const auto& line : lines_of(s.log())) {
    CAPTURE(line);
    REQUIRE(line.size() > 3);
    REQUIRE(line[0] == '<');
    REQUIRE(line[2] == '>');
    auto j = json::parse(line.substr(3));
    std::string level = j["level"];
    CHECK(line[1] == (level == "warn" ? '4' : level == "error" ? '3' : '6'));
    warnings += line[1] == '4';
    infos += line[1] == '6';
  }
  CHECK(warnings == 1);  // the unreadable limiter state
  CHECK(infos >= 3);     // listening, the request, stopping
}

TEST_CASE("a startup failure's line is priority 3 on the journal's stream") {
  TempDir t;
  std::string err = (t.path / "stderr").string();
  std::ofstream(err).flush();
  auto r = run_sh("JOURNAL_STREAM=" + stream_id(err) + " " + sh_quote(MLGATE_BINARY) +
                  " serve --port 0 --data-dir /dev/null/data 2>>" + sh_quote(err));
  CHECK(r.status == 1);
  std::ifstream in(err);
  std::string line;
  std::getline(in, line);
  CHECK(line.rfind("<3>mlgate: cannot create data directory /dev/null/data", 0) == 0);
}

TEST_CASE("a JOURNAL_STREAM naming another stream leaves the lines plain") {
  TempDir t;
  std::string other = (t.path / "other").string();
  std::ofstream(other).flush();
  ::setenv("JOURNAL_STREAM", stream_id(other).c_str(), 1);
  ServerProc s;
  ::unsetenv("JOURNAL_STREAM");
  REQUIRE(s.client().Get("/"));
  for (const auto& line : lines_of(s.log())) {
    CAPTURE(line);
    CHECK(line.front() == '{');
  }
}
