// Unit tests for config.hpp: precedence flag > environment > file > default,
// repeatable flags, durations, boolean flags and one-line errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "config.hpp"

using namespace mlgate;

namespace {

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup lookup() const {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }
};

// A config file with `content`, removed at the end of the test.
struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& content) {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("mlgate-config-test-" + std::to_string(rd()) + ".json");
    std::ofstream(path) << content;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

Config parse_ok(const std::vector<std::string>& args, const Env& env = {}) {
  auto r = parse_serve_config(args, env.lookup());
  REQUIRE_MESSAGE(r.config.has_value(), r.error);
  return *r.config;
}

std::string parse_err(const std::vector<std::string>& args, const Env& env = {}) {
  auto r = parse_serve_config(args, env.lookup());
  CHECK_FALSE(r.config.has_value());
  CHECK_FALSE(r.error.empty());
  CHECK(r.error.find('\n') == std::string::npos);  // one line on stderr
  return r.error;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("with no flags, environment or file every value is the documented default") {
  Config c = parse_ok({});
  Config d;
  CHECK(c.host == "127.0.0.1");
  CHECK(c.port == 8000);
  CHECK(c.data_dir == "./mlgate-data");
  CHECK(c.workers == d.workers);
  CHECK(c.limit_ip == d.limit_ip);
  CHECK(c.tiers == std::map<std::string, std::string>{{"free", "5/min"}, {"premium", "20/min"}});
  CHECK(c.trusted_proxies.empty());
  CHECK(c.cors_origins.empty());
  CHECK(c.access_log);
  CHECK(c.max_body_bytes == 64 * 1024);
  CHECK(c.max_connections == 1024);  // issue 11 raised it from 256
  CHECK(c.max_connections_per_address == 0);  // 0: a quarter of max_connections
  CHECK(c.max_head_bytes == 64 * 1024);
  CHECK(c.head_timeout_ms == 10'000);
  CHECK(c.body_timeout_ms == 30'000);
  CHECK(c.retention_ms == 7LL * 24 * 3600 * 1000);
}

TEST_CASE("the data directory defaults to the first entry of $STATE_DIRECTORY") {
  Env env{{{"STATE_DIRECTORY", "/var/lib/mlgate:/var/lib/other"}}};
  CHECK(parse_ok({}, env).data_dir == "/var/lib/mlgate");
  CHECK(parse_ok({"--data-dir", "/x"}, env).data_dir == "/x");
}

TEST_CASE("precedence: flag over environment over file over default") {
  TempFile f(R"({"port": 1001, "host": "0.0.0.0", "workers": 3})");
  Env env{{{"MLGATE_CONFIG", f.path.string()}, {"MLGATE_PORT", "1002"}}};
  Config c = parse_ok({"--port", "1003"}, env);
  CHECK(c.port == 1003);        // flag
  CHECK(c.host == "0.0.0.0");   // file
  CHECK(c.workers == 3);        // file
  CHECK(c.limit_ip == Config{}.limit_ip);  // default
  CHECK(parse_ok({}, env).port == 1002);   // environment over file
  env.vars.erase("MLGATE_PORT");
  CHECK(parse_ok({}, env).port == 1001);   // file over default
}

TEST_CASE("--config on the command line wins over MLGATE_CONFIG") {
  TempFile a(R"({"port": 1111})");
  TempFile b(R"({"port": 2222})");
  Env env{{{"MLGATE_CONFIG", a.path.string()}}};
  CHECK(parse_ok({"--config", b.path.string()}, env).port == 2222);
  CHECK(parse_ok({"--config=" + b.path.string()}, env).port == 2222);
}

TEST_CASE("--flag=value and --flag value are the same") {
  CHECK(parse_ok({"--port=1234"}).port == 1234);
  CHECK(parse_ok({"--port", "1234"}).port == 1234);
}

TEST_CASE("environment variable names follow the flag names") {
  Env env{{{"MLGATE_LIMIT_IP", "7/s"}, {"MLGATE_MAX_CONNECTIONS", "64"}, {"MLGATE_DATA_DIR", "/d"}}};
  Config c = parse_ok({}, env);
  CHECK(c.limit_ip == "7/s");
  CHECK(c.max_connections == 64);
  CHECK(c.data_dir == "/d");
}

TEST_CASE("a repeatable flag collects every occurrence") {
  Config c = parse_ok({"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "192.168.0.0/16",
                       "--cors-origin", "https://a.example", "--cors-origin", "https://b.example"});
  CHECK(c.trusted_proxies == std::vector<std::string>{"10.0.0.0/8", "192.168.0.0/16"});
  CHECK(c.cors_origins == std::vector<std::string>{"https://a.example", "https://b.example"});
}

TEST_CASE("a repeatable flag replaces the environment's and the file's list") {
  TempFile f(R"({"trusted_proxy": ["1.0.0.0/8"], "cors_origin": ["https://file.example"]})");
  Env env{{{"MLGATE_CONFIG", f.path.string()}, {"MLGATE_TRUSTED_PROXY", "2.0.0.0/8,3.0.0.0/8"}}};
  Config c = parse_ok({}, env);
  CHECK(c.trusted_proxies == std::vector<std::string>{"2.0.0.0/8", "3.0.0.0/8"});  // env replaces file
  CHECK(c.cors_origins == std::vector<std::string>{"https://file.example"});
  c = parse_ok({"--trusted-proxy", "4.0.0.0/8"}, env);
  CHECK(c.trusted_proxies == std::vector<std::string>{"4.0.0.0/8"});
}

TEST_CASE("--tier adds to the built-in tiers and can redefine one") {
  Config c = parse_ok({"--tier", "gold=100/min", "--tier", "free=1/s"});
  CHECK(c.tiers.at("gold") == "100/min");
  CHECK(c.tiers.at("free") == "1/s");
  CHECK(c.tiers.at("premium") == "20/min");
}

TEST_CASE("tiers from the file may be an object, and the environment's list replaces them") {
  TempFile f(R"({"tier": {"gold": "7/min"}})");
  Env env{{{"MLGATE_CONFIG", f.path.string()}}};
  CHECK(parse_ok({}, env).tiers.at("gold") == "7/min");
  env.vars["MLGATE_TIER"] = "silver=3/min";
  Config c = parse_ok({}, env);
  CHECK(c.tiers.count("gold") == 0);
  CHECK(c.tiers.at("silver") == "3/min");
  CHECK(c.tiers.count("free") == 1);
}

TEST_CASE("durations: a whole number with s, m, h or d") {
  CHECK(parse_duration_ms("90s") == 90'000);
  CHECK(parse_duration_ms("15m") == 900'000);
  CHECK(parse_duration_ms("24h") == 86'400'000);
  CHECK(parse_duration_ms("30d") == 30LL * 86'400'000);
  CHECK(parse_duration_ms("0s") == 0);
  CHECK(parse_ok({"--retention", "30d"}).retention_ms == 30LL * 86'400'000);
  CHECK(parse_ok({"--shutdown-grace", "90s"}).shutdown_grace_ms == 90'000);
}

TEST_CASE("malformed durations are refused") {
  for (const char* bad : {"", "s", "10", "10x", "-5s", "1.5h", "10 s", " 10s", "10S", "s10",
                          "99999999999999999d", "10ms"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration_ms(bad).has_value());
  }
  auto e = parse_err({"--retention", "7 days"});
  CHECK(contains(e, "--retention"));
}

TEST_CASE("bad numbers give one line naming the flag") {
  CHECK(contains(parse_err({"--port", "70000"}), "--port"));
  CHECK(contains(parse_err({"--port", "abc"}), "--port"));
  CHECK(contains(parse_err({"--port", "80x"}), "--port"));
  CHECK(contains(parse_err({"--workers", "0"}), "--workers"));
  CHECK(contains(parse_err({"--max-connections", "-1"}), "--max-connections"));
}

TEST_CASE("the connection settings: flag, environment and file") {
  Config c = parse_ok({"--max-head-bytes", "8192", "--head-timeout", "2s", "--body-timeout", "1m",
                       "--max-connections-per-address", "50"});
  CHECK(c.max_head_bytes == 8192);
  CHECK(c.head_timeout_ms == 2000);
  CHECK(c.body_timeout_ms == 60'000);
  CHECK(c.max_connections_per_address == 50);
  Env env{{{"MLGATE_HEAD_TIMEOUT", "3s"}, {"MLGATE_MAX_CONNECTIONS_PER_ADDRESS", "7"}}};
  CHECK(parse_ok({}, env).head_timeout_ms == 3000);
  CHECK(parse_ok({}, env).max_connections_per_address == 7);
  TempFile f(R"({"body_timeout": "45s", "max_head_bytes": 4096})");
  Config fc = parse_ok({"--config", f.path.string()});
  CHECK(fc.body_timeout_ms == 45'000);
  CHECK(fc.max_head_bytes == 4096);
  CHECK(contains(parse_err({"--head-timeout", "0s"}), "--head-timeout"));
  CHECK(contains(parse_err({"--body-timeout", "30"}), "--body-timeout"));
  CHECK(contains(parse_err({"--max-head-bytes", "100"}), "--max-head-bytes"));
  CHECK(contains(parse_err({"--max-connections-per-address", "0"}), "--max-connections-per-address"));
}

TEST_CASE("a bad environment value names the variable") {
  Env env{{{"MLGATE_PORT", "eighty"}}};
  CHECK(contains(parse_err({}, env), "MLGATE_PORT"));
}

TEST_CASE("a bad config file gives one line naming the file or the key") {
  CHECK(contains(parse_err({"--config", "/nonexistent/mlgate.json"}), "/nonexistent/mlgate.json"));
  TempFile notjson("{port: 1");
  CHECK(contains(parse_err({"--config", notjson.path.string()}), "not valid JSON"));
  CHECK(contains(parse_err({"--config", notjson.path.string()}), "line 1, column 2"));
  // A number no double holds threw past the parse_error handler (fuzz.config).
  TempFile huge(R"({"port": 1e400})");
  CHECK(contains(parse_err({"--config", huge.path.string()}), "number too large"));
  TempFile array("[1, 2]");
  CHECK(contains(parse_err({"--config", array.path.string()}), "not a JSON object"));
  TempFile unknown(R"({"prot": 8080})");
  CHECK(contains(parse_err({"--config", unknown.path.string()}), "prot"));
  TempFile badval(R"({"port": "http"})");
  CHECK(contains(parse_err({"--config", badval.path.string()}), "port"));
  TempFile badtype(R"({"host": 5})");
  CHECK(contains(parse_err({"--config", badtype.path.string()}), "expected a string"));
}

TEST_CASE("rates are checked when parsed, not when the server starts") {
  // These passed parsing and then crashed the server (SIGFPE for the poll
  // rate, std::terminate for the tier named like the per-address limit).
  CHECK(contains(parse_err({"--limit-poll", "bogus"}), "--limit-poll"));
  CHECK(contains(parse_err({"--limit-ip", "50/fortnight"}), "--limit-ip"));
  CHECK(contains(parse_err({"--limit-auth-fail", "x"}), "--limit-auth-fail"));
  CHECK(contains(parse_err({"--tier", "premium=fast"}), "premium"));
  Env env{{{"MLGATE_LIMIT_POLL", "0/s"}}};
  CHECK(contains(parse_err({}, env), "MLGATE_LIMIT_POLL"));
}

TEST_CASE("a tier may not take a name the server uses for its own limits") {
  for (const char* bad : {"ip", "auth_fail", "premium.poll", ".poll", "", "a b", "x/y",
                          "123456789012345678901234567890123"}) {
    CAPTURE(bad);
    CHECK_FALSE(tier_name_error(bad).empty());
    CHECK(contains(parse_err({"--tier", std::string(bad) + "=5/min"}), "--tier"));
  }
  for (const char* good : {"free", "gold", "tier-2", "a.b", "poll", "ip2", "x_poll"}) {
    CAPTURE(good);
    CHECK(tier_name_error(good).empty());
  }
}

TEST_CASE("validate_config refuses what a program embedding the server could set") {
  Config sound;
  sound.data_dir = "/var/lib/kiosk/mlgate";  // the one field without a usable default
  CHECK(validate_config(sound).empty());
  CHECK(contains(validate_config(Config{}), "data_dir"));
  Config c = sound;
  c.limit_poll = "bogus";
  CHECK(contains(validate_config(c), "limit_poll"));
  c = sound;
  c.tiers["ip"] = "5/min";
  CHECK(contains(validate_config(c), "reserved"));
  c = sound;
  c.tiers.erase("free");
  CHECK(contains(validate_config(c), "free"));
  c = sound;
  c.trusted_proxies = {"10.0.0.1/8"};
  CHECK(contains(validate_config(c), "trusted_proxy"));
  c = sound;
  c.host = "";
  CHECK(contains(validate_config(c), "host"));
}

TEST_CASE("a host is an IP address or a host name") {
  for (const char* good : {"127.0.0.1", "0.0.0.0", "::", "::1", "localhost", "api.example.com", "a-b.c"})
    CHECK_MESSAGE(parse_ok({"--host", good}).host == good, good);
  for (const char* bad : {"", "no such host", "a..b", "-a", "a-", "x.", "[::1]", "1.2.3.4:80"})
    CHECK_MESSAGE(contains(parse_err({"--host", bad}), "--host"), bad);
}

TEST_CASE("a CORS origin is scheme://host[:port] and nothing else") {
  CHECK(parse_ok({"--cors-origin", "https://app.example.com:8443"}).cors_origins.size() == 1);
  CHECK(parse_ok({"--cors-origin", "http://localhost:3000"}).cors_origins.size() == 1);
  for (const char* bad : {"*", "app.example.com", "https://app.example.com/", "https://", "://x",
                          "HTTPS://x", "https://a b"})
    CHECK_MESSAGE(contains(parse_err({"--cors-origin", bad}), "--cors-origin"), bad);
}

TEST_CASE("usage mistakes give one line") {
  CHECK(contains(parse_err({"--no-such-flag"}), "unknown option --no-such-flag"));
  CHECK(contains(parse_err({"--port"}), "--port needs a value"));
  CHECK(contains(parse_err({"--config"}), "--config"));
  CHECK(contains(parse_err({"serve"}), "unexpected argument"));
  CHECK(contains(parse_err({"--tier", "gold"}), "NAME=RATE"));
  CHECK(contains(parse_err({"--model", "gpt"}), "--model"));
  parse_err({"--tls-cert", "/c.pem"});
  parse_err({"--model", "exec"});
}

TEST_CASE("a bool flag alone means true; it also takes an explicit value") {
  CHECK(parse_ok({"--access-log"}).access_log);
  CHECK(parse_ok({"--access-log", "--port", "1"}).access_log);
  CHECK(parse_ok({"--access-log", "--port", "1"}).port == 1);
  CHECK_FALSE(parse_ok({"--access-log=false"}).access_log);
  CHECK_FALSE(parse_ok({"--access-log=no"}).access_log);
  CHECK_FALSE(parse_ok({"--access-log", "off"}).access_log);
  CHECK_FALSE(parse_ok({"--access-log=0"}).access_log);
  CHECK(contains(parse_err({"--access-log=maybe"}), "--access-log"));
}

TEST_CASE("a bool from the environment or the file") {
  Env env{{{"MLGATE_ACCESS_LOG", "0"}}};
  CHECK_FALSE(parse_ok({}, env).access_log);
  TempFile f(R"({"access_log": false})");
  CHECK_FALSE(parse_ok({"--config", f.path.string()}).access_log);
  CHECK(parse_ok({"--config", f.path.string(), "--access-log"}).access_log);
}

TEST_CASE("the usage text lists every flag with its environment variable") {
  std::string u = serve_usage();
  for (const char* f : {"--port", "--limit-ip", "--trusted-proxy", "--cors-origin", "--access-log",
                        "--max-connections", "--max-connections-per-address", "--max-head-bytes",
                        "--head-timeout", "--body-timeout", "--config"})
    CHECK(contains(u, f));
  CHECK(contains(u, "MLGATE_PORT"));
}

TEST_CASE("--max-waiting, MLGATE_MAX_WAITING and \"max_waiting\" bound the waiting requests; 0 means a share") {
  Env env;
  auto r = parse_serve_config({}, env.lookup());
  REQUIRE(r.config);
  CHECK(r.config->max_waiting == 0);  // resolved by the server: a quarter of max_connections
  r = parse_serve_config({"--max-waiting", "3"}, env.lookup());
  REQUIRE(r.config);
  CHECK(r.config->max_waiting == 3);
  env.vars["MLGATE_MAX_WAITING"] = "7";
  r = parse_serve_config({}, env.lookup());
  REQUIRE(r.config);
  CHECK(r.config->max_waiting == 7);
  TempFile f(R"({"max_waiting": 9})");
  r = parse_serve_config({"--config", f.path.string()}, Env{}.lookup());
  REQUIRE(r.config);
  CHECK(r.config->max_waiting == 9);
  for (const char* bad : {"0", "-1", "x"}) {
    CAPTURE(bad);
    r = parse_serve_config({"--max-waiting", bad}, Env{}.lookup());
    CHECK_FALSE(r.config);
    CHECK(r.error.find("max-waiting") != std::string::npos);
  }
}
