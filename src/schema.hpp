// schema.hpp: the SQLite schema and its forward-only migrations.
//
// Contract: migrate() brings a database of any earlier version up to
// kSchemaVersion inside one transaction, or throws and leaves it untouched.
// A database written by a newer mlgate (user_version above ours) is refused
// rather than guessed at.
#pragma once

#include "db.hpp"

namespace mlgate {

inline constexpr int kSchemaVersion = 1;

void migrate(Db& db);

}  // namespace mlgate
