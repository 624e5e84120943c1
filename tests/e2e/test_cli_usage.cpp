// The command line as a user meets it (DESIGN.md "Command line"): every bad
// flag, environment value and config-file value ends in one line on stderr
// and exit 2 before anything is created; every command has its --help; a
// runtime failure at start-up (a port in use) is one line and exit 1.
#include <doctest/doctest.h>

#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "harness.hpp"

using namespace e2e;
namespace fs = std::filesystem;

namespace {

std::string write_file(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

// Every flag `serve --help` lists, but --config, --dry-run and --help.
std::set<std::string> serve_flags() {
  CliResult r = run_cli({"serve", "--help"});
  REQUIRE(r.status == 0);
  std::set<std::string> flags;
  static const std::regex kFlag(R"(^  --([a-z0-9-]+))");
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kFlag)) flags.insert(m[1]);
  }
  for (const char* own : {"config", "dry-run", "help"}) CHECK(flags.erase(own) == 1);
  return flags;
}

// "limit-ip" -> "MLGATE_LIMIT_IP"; -> "limit_ip".
std::string env_of(std::string flag) {
  for (char& c : flag) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return "MLGATE_" + flag;
}
std::string key_of(std::string flag) {
  for (char& c : flag) c = c == '-' ? '_' : c;
  return flag;
}

// One way of giving mlgate serve a bad value, and what must follow: exit 2,
// nothing on stdout, exactly one line on stderr naming where the value came
// from, and no data directory.
void expect_refused(const std::vector<std::string>& args, const std::vector<std::string>& env,
                    const std::string& names, const fs::path& data) {
  std::vector<std::string> a = {"serve", "--port", "0", "--data-dir", data.string()};
  a.insert(a.end(), args.begin(), args.end());
  CliResult r = run_cli(a, "", env);
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  CHECK_MESSAGE(line_count(r.err) == 1, r.err);
  CHECK_MESSAGE(r.err.rfind("mlgate: ", 0) == 0, r.err);
  CHECK_MESSAGE(r.err.find(names) != std::string::npos, "expected \"" << names << "\" in: " << r.err);
  CHECK_FALSE(fs::exists(data));
}

}  // namespace

TEST_CASE("every serve flag, MLGATE_ variable and config key refuses a bad value: one line, exit 2, nothing created") {
  TempDir tmp;
  std::string garbage = write_file(tmp.path / "garbage.pem", "not a certificate\n");
  // Bad values for each setting; a value with a '\n' would be two lines, so
  // none has one. Values that need a partner (--tls-key) get it from
  // `with`, so each refusal is for the value under test.
  struct Bad {
    std::vector<std::string> values;
    std::vector<std::string> with = {};
  };
  const std::map<std::string, Bad> table = {
      {"host", {{"", "not a host!", "::1x", "-a.example"}}},
      {"port", {{"70000", "http", "-1", "80x"}}},
      {"data-dir", {{""}}},
      {"workers", {{"0", "many", "257"}}},
      {"limit-ip", {{"50/fortnight", "bogus", "0/s", "5/min,burst=0", "5/min,brust=3"}}},
      {"tier", {{"premium=fast", "ip=5/min", "auth_fail=1/s", "free.poll=1/s", "gold", "=5/min",
                 "a b=1/s"}}},
      {"limit-poll", {{"bogus", "10/s,burst=x"}}},
      {"limit-auth-fail", {{"twenty", "20/fortnight"}}},
      {"trusted-proxy", {{"10.0.0.1/8", "bogus", "10.0.0.0/33"}}},
      {"ipv6-prefix", {{"0", "129"}}},
      {"limit-table-size", {{"10", "big"}}},
      {"max-body", {{"1", "1e6"}}},
      {"max-connections", {{"2", "lots"}}},
      {"max-head-bytes", {{"10", "2000000", "64k"}}},
      {"max-connections-per-address", {{"0", "x"}}},
      {"head-timeout", {{"0s", "2d", "10"}}},
      {"body-timeout", {{"soon", "0s"}}},
      {"max-waiting", {{"0", "x"}}},
      {"redis", {{"http://x", "redis://", "redis://h:99999"}}},
      {"database", {{"mysql://h/db", "sqlite://", "postgres", "sqlite:///a?mode=ro"}}},
      {"job-lease", {{"0s", "soon", "2h"}}},
      {"redis-prefix", {{std::string(101, 'a')}}},
      {"redis-fail", {{"maybe", ""}}},
      {"redis-connect-timeout", {{"0ms", "fast", "11s"}}},
      {"redis-timeout", {{"0ms", "11s"}}},
      {"keep-alive-timeout", {{"0", "5s"}}},
      {"cors-origin", {{"*", "example.com", "https://a.example/path", "https://"}}},
      {"access-log", {{"maybe"}}},
      {"tls-cert", {{(tmp.path / "none.pem").string(), garbage}, {"--tls-key", garbage}}},
      {"tls-key", {{(tmp.path / "none.pem").string(), garbage}}},
      {"queue-max", {{"0"}}},
      {"max-attempts", {{"0", "101"}}},
      {"retention", {{"7 days", "99999999d", "7"}}},
      {"shutdown-grace", {{"soon", "-1s"}}},
      {"model", {{"gpt", ""}}},
      {"lexicon", {{(tmp.path / "none.tsv").string(), garbage}}},
      {"exec", {{""}, {"--model", "exec"}}},
      {"exec-timeout", {{"0s", "fast", "30"}}},
  };
  // tls-key's partner: a readable certificate is not needed to refuse a
  // missing key, but the pair rule is checked first, so give the pair.
  const std::map<std::string, std::vector<std::string>> partner = {
      {"tls-key", {"--tls-cert", garbage}}};

  // A flag added to serve without a line here fails this test.
  std::set<std::string> flags = serve_flags();
  for (auto& f : flags) CHECK_MESSAGE(table.count(f) == 1, "no bad value for --" << f);
  for (auto& [f, bad] : table) CHECK_MESSAGE(flags.count(f) == 1, "--" << f << " is not a serve flag");

  fs::path data = tmp.path / "data";
  int n = 0;
  for (auto& [flag, bad] : table) {
    std::vector<std::string> with = bad.with;
    if (auto p = partner.find(flag); p != partner.end()) with = p->second;
    for (auto& v : bad.values) {
      CAPTURE(flag);
      CAPTURE(v);
      std::vector<std::string> args = with;
      args.insert(args.end(), {"--" + flag, v});
      expect_refused(args, {}, flag == "tls-key" && v == garbage ? "--tls" : "--" + flag, data);
      args = with;
      args.push_back("--" + flag + "=" + v);
      expect_refused(args, {}, flag == "tls-key" && v == garbage ? "--tls" : "--" + flag, data);
      // The same value from the environment, and from the config file.
      bool file_check = flag == "tls-cert" || flag == "tls-key" || flag == "lexicon";
      expect_refused(with, {env_of(flag) + "=" + v}, file_check ? "--" : env_of(flag), data);
      std::string cfg = write_file(tmp.path / ("c" + std::to_string(++n) + ".json"),
                                   json{{key_of(flag), v}}.dump());
      args = with;
      args.insert(args.end(), {"--config", cfg});
      expect_refused(args, {}, file_check ? "--" : "key \"" + key_of(flag) + "\"", data);
    }
  }
}

TEST_CASE("config file values of the wrong JSON type are refused, naming the key") {
  TempDir tmp;
  fs::path data = tmp.path / "data";
  for (const char* body : {R"({"host": 5})", R"({"port": true})", R"({"port": null})",
                           R"({"access_log": "sometimes"})", R"({"tier": [1]})",
                           R"({"tier": {"gold": 5}})", R"({"trusted_proxy": [["10.0.0.0/8"]]})",
                           R"({"workers": {"n": 2}})", R"({"prot": 8080})"}) {
    CAPTURE(body);
    std::string cfg = write_file(tmp.path / "c.json", body);
    std::string key = json::parse(body).begin().key();
    expect_refused({"--config", cfg}, {}, "\"" + key + "\"", data);
  }
}

TEST_CASE("a config file that is not valid JSON is refused with the line and column of the fault") {
  TempDir tmp;
  fs::path data = tmp.path / "data";
  std::string cfg = write_file(tmp.path / "c.json", "{\n  \"port\": 8080,\n  \"host\": \n}\n");
  expect_refused({"--config", cfg}, {}, "line 4, column 1", data);
  cfg = write_file(tmp.path / "c.json", "{\"port\": 8080,}");
  expect_refused({"--config", cfg}, {}, "line 1, column 15", data);
  cfg = write_file(tmp.path / "c.json", "");
  expect_refused({"--config", cfg}, {}, "not valid JSON", data);
  expect_refused({"--config", (tmp.path / "missing.json").string()}, {}, "missing.json", data);
  fs::create_directory(tmp.path / "folder.json");  // it crashed with std::terminate
  expect_refused({"--config", (tmp.path / "folder.json").string()}, {}, "folder.json", data);
  // MLGATE_CONFIG too.
  expect_refused({}, {"MLGATE_CONFIG=" + cfg}, "not valid JSON", data);
}

TEST_CASE("MLGATE_TIER keeps a rate's burst: a comma before burst= does not start a tier") {
  TempDir tmp;
  CliResult r = run_cli({"serve", "--dry-run", "--data-dir", (tmp.path / "d").string()}, "",
                        {"MLGATE_TIER=gold=100/min,burst=10,silver=1/s"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  json c = json::parse(r.out);
  CHECK(c["tier"]["gold"] == "100/min,burst=10");
  CHECK(c["tier"]["silver"] == "1/s");
  CHECK(c["tier"]["free"] == "5/min");
}

TEST_CASE("serve --dry-run prints the resolved configuration; read back with --config it is the same") {
  TempDir tmp;
  std::vector<std::string> flags = {
      "--host", "::1", "--port", "19501", "--workers", "3", "--limit-ip", "7/s,burst=9",
      "--tier", "gold=100/min", "--limit-poll", "3/s", "--limit-auth-fail", "9/min",
      "--trusted-proxy", "10.0.0.0/8", "--ipv6-prefix", "56", "--limit-table-size", "5000",
      "--max-body", "2048", "--max-connections", "64", "--keep-alive-timeout", "9",
      "--cors-origin", "https://a.example", "--access-log=false", "--queue-max", "77",
      "--max-attempts", "4", "--retention", "36h", "--shutdown-grace", "90s", "--model", "exec",
      "--exec", "cat", "--exec-timeout", "5m", "--data-dir", (tmp.path / "d").string(),
      "--max-head-bytes", "4096", "--max-connections-per-address", "16", "--head-timeout", "3s",
      "--body-timeout", "1m", "--max-waiting", "8", "--redis", "redis://:hunter2@127.0.0.1:6390/2",
      "--redis-prefix", "t:", "--redis-fail", "closed", "--redis-connect-timeout", "1s",
      "--redis-timeout", "35ms", "--database", "postgresql://u:secret@db.example/mlgate",
      "--job-lease", "20s"};
  std::vector<std::string> args = {"serve", "--dry-run"};
  args.insert(args.end(), flags.begin(), flags.end());
  CliResult first = run_cli(args);
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(first.err.empty());
  json c = json::parse(first.out);
  CHECK(c["host"] == "::1");
  CHECK(c["port"] == 19501);
  CHECK(c["tier"]["gold"] == "100/min");
  CHECK(c["retention"] == "36h");
  CHECK(c["access_log"] == false);
  CHECK(c["redis_timeout"] == "35ms");
  CHECK(c["body_timeout"] == "1m");
  // The Redis password never reaches a terminal or a log.
  CHECK(c["redis"] == "redis://:***@127.0.0.1:6390/2");
  CHECK(first.out.find("hunter2") == std::string::npos);
  CHECK(c["database"] == "postgresql://u:***@db.example/mlgate");
  CHECK(first.out.find("secret") == std::string::npos);
  CHECK(c["job_lease"] == "20s");
  CHECK_FALSE(fs::exists(tmp.path / "d"));  // a dry run creates nothing
  std::string cfg = write_file(tmp.path / "c.json", first.out);
  CliResult again = run_cli({"serve", "--dry-run", "--config", cfg});
  REQUIRE_MESSAGE(again.status == 0, again.err);
  CHECK(json::parse(again.out) == c);
  // Every flag but the text ones left unset has its key.
  for (auto& f : serve_flags())
    if (f != "tls-cert" && f != "tls-key" && f != "lexicon")
      CHECK_MESSAGE(c.contains(key_of(f)), f);
}

TEST_CASE("every command and subcommand answers --help: exit 0, usage on stdout, nothing created") {
  TempDir tmp;
  fs::path data = tmp.path / "data";
  std::vector<std::vector<std::string>> cmds = {
      {"--help"}, {"help"}, {"serve", "--help"}, {"serve", "--port", "1", "--help"},
      {"predict", "--help"}, {"version", "--help"}, {"keys", "--help"}, {"jobs", "--help"},
      {"keys", "create", "--help"}, {"keys", "list", "--help"}, {"keys", "show", "--help"},
      {"keys", "revoke", "--help"}, {"keys", "rotate", "--help"}, {"jobs", "list", "--help"},
      {"jobs", "show", "--help"}, {"jobs", "purge", "--help"},
      {"keys", "create", "--name", "x", "--help"}, {"keys", "create", "-h"}};
  for (auto& cmd : cmds) {
    std::string shown;
    for (auto& a : cmd) shown += a + " ";
    CAPTURE(shown);
    std::vector<std::string> args = cmd;
    CliResult r = run_cli(args, "", {"MLGATE_DATA_DIR=" + data.string()});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    CHECK(r.out.rfind("usage: mlgate", 0) == 0);
    CHECK_FALSE(fs::exists(data));
  }
  // The subcommand's help names its own options.
  CHECK(run_cli({"keys", "create", "--help"}).out.find("--expires-in") != std::string::npos);
  CHECK(run_cli({"jobs", "purge", "--help"}).out.find("--older-than") != std::string::npos);
  // A mistake is still one line and exit 2.
  for (std::vector<std::string> bad : {std::vector<std::string>{}, {"frobnicate"}, {"keys"},
                                       {"keys", "frobnicate"}, {"jobs", "frobnicate", "--help"},
                                       {"version", "extra"}}) {
    CliResult r = run_cli(bad);
    CHECK(r.status == 2);
    CHECK(line_count(r.err) == 1);
  }
}

TEST_CASE("a port already in use: one line on stderr, exit 1, no \"stopped\" line") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  TempDir tmp;
  CliResult r = run_cli({"serve", "--port", std::to_string(port), "--data-dir", (tmp.path / "d").string()});
  close(fd);
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  // One error line; before it, only the info lines of opening the database
  // (created, checked), which come before the port is bound.
  std::istringstream in(r.err);
  int errors = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("mlgate: ", 0) == 0) {
      ++errors;
      continue;
    }
    auto j = json::parse(line, nullptr, false);
    CHECK_MESSAGE((!j.is_discarded() && j.value("level", "") == "info"), line);
    CHECK(line.find("stopped") == std::string::npos);
  }
  CHECK_MESSAGE(errors == 1, r.err);
  CHECK(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
}
