#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "access_log.hpp"
#include "log.hpp"
#include "temp_dir.hpp"

using mlgate::append_json_string;

TEST_CASE("append_json_string: any bytes give an ASCII literal that parses back") {
  const std::string inputs[] = {"",
                                "plain",
                                "quote\" back\\slash",
                                std::string("nul\0ctl\x1f\x7f", 10),
                                "\xff\xfe invalid UTF-8",
                                "new\nline\ttab",
                                "caf\xc3\xa9"};
  for (const std::string& in : inputs) {
    std::string out = "x";
    append_json_string(out, in);
    CAPTURE(out);
    CHECK(out.front() == 'x');  // appends
    for (unsigned char c : out) CHECK((c >= 0x20 && c < 0x7f));
    auto j = nlohmann::json::parse(out.substr(1));
    REQUIRE(j.is_string());
    // ASCII comes back unchanged; a byte >= 0x80 comes back as U+00XX.
    std::string expect;
    for (unsigned char c : in) {
      if (c < 0x80) {
        expect.push_back(static_cast<char>(c));
      } else {
        expect.push_back(static_cast<char>(0xc0 | (c >> 6)));
        expect.push_back(static_cast<char>(0x80 | (c & 0x3f)));
      }
    }
    CHECK(j.get<std::string>() == expect);
  }
}

TEST_CASE("is_journal_stream: true only for the fd that JOURNAL_STREAM's dev:inode names") {
  mlgate::testutil::TempDir t;
  int a = ::open(t.file("a").c_str(), O_WRONLY | O_CREAT, 0600);
  int b = ::open(t.file("b").c_str(), O_WRONLY | O_CREAT, 0600);
  struct stat st {};
  REQUIRE(::fstat(a, &st) == 0);
  std::string id = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  CHECK(mlgate::is_journal_stream(id.c_str(), a));
  CHECK_FALSE(mlgate::is_journal_stream(id.c_str(), b));
  CHECK_FALSE(mlgate::is_journal_stream(nullptr, a));
  for (std::string bad : {std::string(""), std::string("12"), std::to_string(st.st_dev) + ":",
                          id + "x", id + ":1", ":" + std::to_string(st.st_ino)}) {
    CAPTURE(bad);
    CHECK_FALSE(mlgate::is_journal_stream(bad.c_str(), a));
  }
  ::close(a);
  ::close(b);
}

TEST_CASE("syslog priorities of the log levels") {
  CHECK(mlgate::syslog_priority("error") == 3);
  CHECK(mlgate::syslog_priority("warn") == 4);
  CHECK(mlgate::syslog_priority("info") == 6);
  CHECK(mlgate::syslog_priority("debug") == 7);
}

TEST_CASE("the access-log line: one JSON object, keys sorted, nulls for what is unknown") {
  mlgate::AccessLogEntry e;
  e.client = "203.0.113.9";
  std::string key = "key_Qw7Cv8BR4f";
  e.key_id = &key;
  e.method = "GET";
  e.route = "/jobs/{job_uuid}";
  e.ms = 0.125;
  e.rid = 42;
  e.status = 200;
  e.wall_ms = 1764120682162;
  std::string line = mlgate::access_log_line(e);
  auto j = nlohmann::json::parse(line);
  CHECK(j == nlohmann::json{{"client", "203.0.113.9"}, {"key", key}, {"level", "info"},
                            {"method", "GET"}, {"ms", 0.125}, {"msg", "request"}, {"rid", 42},
                            {"route", "/jobs/{job_uuid}"}, {"status", 200},
                            {"ts", "2025-11-26T01:31:22.162Z"}});
  CHECK(line == j.dump());  // the same bytes as nlohmann's sorted dump
  // A request refused before mlgate saw it; a client string that needs escaping.
  mlgate::AccessLogEntry bare;
  bare.client = "a\"b\n";
  bare.status = 400;
  j = nlohmann::json::parse(mlgate::access_log_line(bare));
  CHECK(j["key"].is_null());
  CHECK(j["ms"].is_null());
  CHECK(j["route"] == "-");
  CHECK(j["method"] == "-");
  CHECK(j["client"] == "a\"b\n");
}
