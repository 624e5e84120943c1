// redis_url.hpp: where --redis points, parsed once at configuration time.
//
// Accepted forms (anything else is a one-line error, exit status 2):
//   redis://[[user]:password@]host[:port][/db]      host: name, IPv4, or [IPv6]
//   unix://[[user]:password@]/path/to/redis.sock[?db=N]
// Port defaults to 6379 and db to 0. A password may be percent-encoded
// (%40 for '@'); with a user name it is sent as `AUTH user password`
// (Redis 6 ACLs), without one as `AUTH password` (requirepass).
// Needs no client library: a build without hiredis still validates the flag.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

struct RedisTarget {
  bool unix_socket = false;
  std::string host;  // TCP: without brackets
  int port = 6379;
  std::string path;  // unix socket
  int db = 0;
  std::string user, password;  // empty: no AUTH

  // For logs and errors: the URL without the password.
  std::string redacted() const;
};

struct RedisUrlParse {
  std::optional<RedisTarget> target;
  std::string error;  // one line, never containing the password
};

RedisUrlParse parse_redis_url(std::string_view url);

}  // namespace mlgate
