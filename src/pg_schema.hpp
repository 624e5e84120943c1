// pg_schema.hpp: mlgate's tables in a PostgreSQL database, versioned.
//
// Migrations run at start-up in one transaction under an advisory lock, so
// instances starting together apply them once: the second waits for the
// first and then finds nothing to do. A database whose schema is newer than
// this binary knows is refused (PgSchemaTooNew) and left untouched.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mlgate {

class PgConn;

inline constexpr int kPgSchemaVersion = 2;

struct PgSchemaTooNew : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Brings the schema to kPgSchemaVersion. Throws PgSchemaTooNew,
// StorageUnavailable or PgError.
void pg_migrate(PgConn& c);

// The schema version found (0: none yet), without changing anything.
int pg_schema_version(PgConn& c);

// A 16-byte secret shared by every instance on the database, made by the
// first one that asks (the GET /jobs cursor key).
std::array<uint8_t, 16> pg_database_secret(PgConn& c, const std::string& name);

// Milliseconds since the epoch on the database's clock: leases are judged
// by this one clock, whatever the instances' clocks say.
inline constexpr const char* kPgNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

}  // namespace mlgate
