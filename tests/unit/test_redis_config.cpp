// Unit tests for the --redis settings: the URL forms of redis_url.hpp, the
// flags, environment variables and config keys, and their one-line errors.
#include <doctest/doctest.h>

#include <map>

#include "config.hpp"
#include "redis_url.hpp"

using namespace mlgate;

namespace {

ConfigResult parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_serve_config(args, [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  });
}

}  // namespace

TEST_CASE("redis URLs: host, port, database, password, IPv6 and unix sockets") {
  struct Case {
    const char* url;
    bool unix_socket;
    const char *host, *path;
    int port, db;
    const char *user, *password;
  };
  const Case cases[] = {
      {"redis://127.0.0.1", false, "127.0.0.1", "", 6379, 0, "", ""},
      {"redis://localhost:6380/3", false, "localhost", "", 6380, 3, "", ""},
      {"redis://:pw@10.0.0.5:7000/1", false, "10.0.0.5", "", 7000, 1, "", "pw"},
      {"redis://app:p%40ss@host", false, "host", "", 6379, 0, "app", "p@ss"},
      {"redis://[::1]:6390/", false, "::1", "", 6390, 0, "", ""},
      {"redis://:a:b@c@host", false, "host", "", 6379, 0, "", "a:b@c"},
      {"unix:///run/redis/redis.sock", true, "", "/run/redis/redis.sock", 6379, 0, "", ""},
      {"unix:///tmp/r.sock?db=2", true, "", "/tmp/r.sock", 6379, 2, "", ""},
      {"unix://:pw@/tmp/r.sock", true, "", "/tmp/r.sock", 6379, 0, "", "pw"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.url);
    auto r = parse_redis_url(c.url);
    REQUIRE_MESSAGE(r.target, r.error);
    CHECK(r.target->unix_socket == c.unix_socket);
    CHECK(r.target->host == c.host);
    CHECK(r.target->path == c.path);
    CHECK(r.target->port == c.port);
    CHECK(r.target->db == c.db);
    CHECK(r.target->user == c.user);
    CHECK(r.target->password == c.password);
  }
}

TEST_CASE("malformed redis URLs are one-line errors that never show the password") {
  for (const char* url :
       {"127.0.0.1:6379", "http://host", "redis://", "redis://host:0", "redis://host:70000",
        "redis://host:port", "redis://host:6379/x", "redis://[::1", "redis://pw@host",
        "redis://:@host", "redis://:%zz@host", "unix://relative.sock", "unix:///s.sock?x=1",
        "unix:///s.sock?db=-1", "redis://:secret@host:99999"}) {
    CAPTURE(url);
    auto r = parse_redis_url(url);
    CHECK_FALSE(r.target);
    CHECK(r.error.rfind("invalid URL: ", 0) == 0);
    CHECK(r.error.find('\n') == std::string::npos);
    CHECK(r.error.find("secret") == std::string::npos);
  }
}

TEST_CASE("a redacted URL hides the password") {
  CHECK(parse_redis_url("redis://:s3cret@h:1/2").target->redacted() == "redis://:***@h:1/2");
  CHECK(parse_redis_url("redis://[::1]").target->redacted() == "redis://[::1]:6379/0");
  CHECK(parse_redis_url("unix:///r.sock").target->redacted() == "unix:///r.sock?db=0");
}

TEST_CASE("the --redis settings: defaults, flags, environment and their errors") {
  auto d = parse({});
  REQUIRE(d.config);
  CHECK(d.config->redis.empty());
  CHECK(d.config->redis_prefix == "mlgate:");
  CHECK(d.config->redis_fail == "local");
  CHECK(d.config->redis_connect_timeout_ms == 50);
  CHECK(d.config->redis_timeout_ms == 20);

  auto f = parse({"--redis-prefix", "team-a:", "--redis-fail", "closed", "--redis-timeout", "35ms",
                  "--redis-connect-timeout", "1s"},
                 {{"MLGATE_REDIS_FAIL", "open"}});
  REQUIRE(f.config);
  CHECK(f.config->redis_prefix == "team-a:");
  CHECK(f.config->redis_fail == "closed");  // the flag wins over the environment
  CHECK(f.config->redis_timeout_ms == 35);
  CHECK(f.config->redis_connect_timeout_ms == 1000);

  CHECK(parse({"--redis-fail", "maybe"}).error == "--redis-fail: expected local, closed or open");
  CHECK(parse({"--redis-timeout", "0ms"}).error.find("--redis-timeout: expected a duration") == 0);
  CHECK(parse({"--redis-timeout", "20"}).error.find("--redis-timeout: expected a duration") == 0);
  CHECK(parse({}, {{"MLGATE_REDIS", "localhost"}}).error.find("MLGATE_REDIS: invalid URL") == 0);
}

#if MLGATE_HAVE_HIREDIS
TEST_CASE("a valid --redis URL is accepted") {
  auto r = parse({"--redis", "redis://:pw@127.0.0.1:6390/2"});
  REQUIRE(r.config);
  CHECK(r.config->redis == "redis://:pw@127.0.0.1:6390/2");
}
#else
TEST_CASE("a build without hiredis refuses --redis in one line") {
  CHECK(parse({"--redis", "redis://127.0.0.1"}).error ==
        "--redis: this mlgate was built without Redis support (hiredis)");
}
#endif
