// database_url.hpp: where --database points, parsed once at configuration
// time (needs no client library: a build without libpq still validates it).
//
// Accepted forms (anything else is a one-line error, exit status 2):
//   sqlite:///PATH             the SQLite file at /PATH (the default is the
//                              data directory's mlgate.db); sqlite://REL is
//                              a path relative to the working directory
//   postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]
//   postgres://...             the same; libpq reads it as it is, so its
//                              parameters (host=/socket/dir, sslmode, ...)
//                              and the PG* environment variables work
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

struct DatabaseTarget {
  enum Kind { Sqlite, Postgres } kind = Sqlite;
  std::string path;  // Sqlite: the file
  std::string url;   // Postgres: as given, for libpq
  // For logs, errors and --dry-run: the URL with any password as ***.
  std::string redacted() const;
};

struct DatabaseUrlParse {
  std::optional<DatabaseTarget> target;
  std::string error;  // one line, never containing the password
};

DatabaseUrlParse parse_database_url(std::string_view url);

}  // namespace mlgate
