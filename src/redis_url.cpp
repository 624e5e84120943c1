// redis_url.cpp: see redis_url.hpp.
#include "redis_url.hpp"

#include <charconv>

namespace mlgate {

namespace {

std::optional<int> parse_int(std::string_view s, int lo, int hi) {
  int v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v < lo || v > hi)
    return std::nullopt;
  return v;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int h = hex(s[i + 1]), l = hex(s[i + 2]);
    if (h < 0 || l < 0) return std::nullopt;
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return out;
}

RedisUrlParse fail(std::string why) {
  return {std::nullopt, "invalid URL: " + why};
}

// "[user]:password@" in front of the rest; the rest is returned in `rest`.
std::string take_credentials(std::string_view& rest, RedisTarget& t) {
  const auto at = rest.rfind('@');
  if (at == std::string_view::npos) return "";
  const std::string_view cred = rest.substr(0, at);
  rest = rest.substr(at + 1);
  const auto colon = cred.find(':');
  if (colon == std::string_view::npos)
    return "credentials must be written [user]:password@ (a password alone is :password@)";
  auto user = percent_decode(cred.substr(0, colon));
  auto pass = percent_decode(cred.substr(colon + 1));
  if (!user || !pass) return "malformed %-escape in the credentials";
  if (pass->empty()) return "empty password";
  t.user = *user;
  t.password = *pass;
  return "";
}

}  // namespace

std::string RedisTarget::redacted() const {
  const std::string cred = password.empty() ? "" : user + ":***@";
  if (unix_socket) return "unix://" + cred + path + "?db=" + std::to_string(db);
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + cred + h + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisUrlParse parse_redis_url(std::string_view url) {
  RedisTarget t;
  constexpr std::string_view kTcp = "redis://", kUnix = "unix://";
  std::string_view rest;
  if (url.substr(0, kTcp.size()) == kTcp) {
    rest = url.substr(kTcp.size());
  } else if (url.substr(0, kUnix.size()) == kUnix) {
    rest = url.substr(kUnix.size());
    t.unix_socket = true;
  } else {
    return fail("expected redis://[:password@]host[:port][/db] or unix:///path/to/redis.sock[?db=N]");
  }
  if (auto e = take_credentials(rest, t); !e.empty()) return fail(e);

  if (t.unix_socket) {
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
      query = rest.substr(q + 1);
      rest = rest.substr(0, q);
    }
    if (rest.empty() || rest[0] != '/') return fail("a unix socket needs an absolute path");
    t.path = std::string(rest);
    if (!query.empty()) {
      constexpr std::string_view kDb = "db=";
      if (query.substr(0, kDb.size()) != kDb) return fail("the only parameter is ?db=N");
      auto db = parse_int(query.substr(kDb.size()), 0, 1'000'000);
      if (!db) return fail("db must be a whole number");
      t.db = *db;
    }
    return {std::move(t), ""};
  }

  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto n = parse_int(db, 0, 1'000'000);
      if (!n) return fail("the database after / must be a whole number");
      t.db = *n;
    }
  }
  std::string_view port;
  if (!hostport.empty() && hostport[0] == '[') {  // [IPv6]:port
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return fail("unclosed [ in the host");
    t.host = std::string(hostport.substr(1, close - 1));
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("expected :port after ]");
      port = after.substr(1);
      if (port.empty()) return fail("empty port");
    }
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    t.host = std::string(hostport.substr(0, colon));
    port = hostport.substr(colon + 1);
    if (port.empty()) return fail("empty port");
  } else {
    t.host = std::string(hostport);
  }
  if (t.host.empty()) return fail("no host");
  if (!port.empty()) {
    auto p = parse_int(port, 1, 65535);
    if (!p) return fail("the port must be a number from 1 to 65535");
    t.port = *p;
  }
  return {std::move(t), ""};
}

}  // namespace mlgate
