// schema.hpp: the SQLite schema and its forward-only migrations.
//
// Contract: migrate() brings a database of any earlier version up to
// kSchemaVersion inside one transaction, or throws and leaves it untouched.
// A database written by a newer mlgate (user_version above ours) is refused
// rather than guessed at.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "db.hpp"

namespace mlgate {

inline constexpr int kSchemaVersion = 1;

void migrate(Db& db);

// Why the database on `db` is not one this mlgate can use (no schema
// version, a newer one, a table of ours missing), as a clause for an error
// line ("it was written by a newer mlgate (...)"), or nullopt. Reads only;
// throws DbError when the file cannot be read as a database at all.
std::optional<std::string> schema_mismatch(Db& db);

// A random 128-bit secret of this database named `name`, made (from the OS's
// random source) the first time it is asked for and kept in `meta` as two
// integers, so it follows the file through a backup and restore.
std::array<uint8_t, 16> database_secret(Db& db, const std::string& name);

}  // namespace mlgate
