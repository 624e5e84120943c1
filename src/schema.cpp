#include "schema.hpp"

#include <array>

#include "api_key.hpp"

namespace mlgate {
namespace {

// Each entry upgrades version i to i+1. Never edit a shipped entry: add one.
// Times are integer Unix milliseconds (UTC); the API formats them as RFC 3339.
constexpr std::array<const char*, kSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY,         -- public identifier, shown in lists and logs
  hash         BLOB NOT NULL UNIQUE,     -- SHA-256 of the key; the key itself is never stored
  name         TEXT NOT NULL,
  owner        TEXT NOT NULL,            -- keys of one owner see the same jobs
  tier         TEXT NOT NULL,
  scopes       TEXT NOT NULL,            -- comma-separated: predict,read,metrics
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER,
  revoked_at   INTEGER,
  last_used_at INTEGER,
  replaced_by  TEXT                      -- set by rotation
);
CREATE TABLE jobs (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of acceptance; list cursor
  uuid            TEXT NOT NULL UNIQUE,
  owner           TEXT NOT NULL,
  key_id          TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN
                    ('pending','running','completed','failed','canceled')),
  input           TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  result_label    TEXT,
  result_score    REAL,
  result          TEXT,                  -- JSON detail object from the model
  error           TEXT,
  idempotency_key TEXT,
  request_hash    BLOB,                  -- SHA-256 of the body, for Idempotency-Key
  created_at      INTEGER NOT NULL,
  started_at      INTEGER,
  finished_at     INTEGER,
  run_after       INTEGER NOT NULL DEFAULT 0  -- retry backoff: not before this time
);
CREATE INDEX jobs_by_owner ON jobs(owner, seq);
CREATE INDEX jobs_unfinished ON jobs(status, seq) WHERE status IN ('pending','running');
CREATE INDEX jobs_by_finish ON jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX jobs_by_idempotency ON jobs(owner, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Bumped by triggers whenever a key is added, revoked, rotated or changes
-- expiry, so a running server notices CLI changes with one cheap read.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT INTO meta VALUES ('keys_generation', 0);
CREATE TRIGGER api_keys_ins AFTER INSERT ON api_keys BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'keys_generation';
END;
CREATE TRIGGER api_keys_upd AFTER UPDATE OF
  hash, owner, tier, scopes, expires_at, revoked_at ON api_keys BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'keys_generation';
END;
CREATE TRIGGER api_keys_del AFTER DELETE ON api_keys BEGIN
  UPDATE meta SET value = value + 1 WHERE key = 'keys_generation';
END;
CREATE TABLE limiter_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  saved_at INTEGER NOT NULL,
  data     BLOB NOT NULL
);
)sql",
};

}  // namespace

void migrate(Db& db) {
  Tx tx(db);
  int64_t v = db.pragma_int("user_version");
  if (v > kSchemaVersion)
    throw DbError(SQLITE_MISMATCH,
                  "database schema version " + std::to_string(v) +
                      " is newer than this mlgate understands (" +
                      std::to_string(kSchemaVersion) + ")");
  for (; v < kSchemaVersion; ++v) db.exec(kMigrations[v]);
  db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
  tx.commit();
}

std::array<uint8_t, 16> database_secret(Db& db, const std::string& name) {
  Tx tx(db);
  std::array<uint8_t, 16> out{};
  for (int half = 0; half < 2; ++half) {
    const std::string key = name + "_" + std::to_string(half);
    int64_t fresh = 0;
    random_bytes(&fresh, sizeof fresh);
    db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)")
        .bind(1, key)
        .bind(2, fresh)
        .run();
    Stmt st = db.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind(1, key).step();
    const auto v = static_cast<uint64_t>(st.i64(0));
    for (int i = 0; i < 8; ++i)
      out[static_cast<size_t>(8 * half + i)] = static_cast<uint8_t>(v >> (8 * i));
  }
  tx.commit();
  return out;
}

std::optional<std::string> schema_mismatch(Db& db) {
  int64_t v = db.pragma_int("user_version");
  if (v <= 0) return "it is an SQLite database without mlgate's schema (user_version " +
                    std::to_string(v) + ")";
  if (v > kSchemaVersion)
    return "it was written by a newer mlgate (schema version " + std::to_string(v) +
           "; this one knows up to " + std::to_string(kSchemaVersion) + ")";
  // The tables of version 1, which every later version keeps.
  Stmt st = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?");
  for (const char* table : {"api_keys", "jobs", "meta", "limiter_state"}) {
    st.bind(1, table);
    bool found = st.step() && st.i64(0) == 1;
    st.reset();
    if (!found) return std::string("it is an SQLite database without mlgate's table \"") + table + "\"";
  }
  return std::nullopt;
}

}  // namespace mlgate
