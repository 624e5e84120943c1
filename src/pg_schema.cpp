#include "pg_schema.hpp"

#include "api_key.hpp"  // random_bytes
#include "pg_conn.hpp"

namespace mlgate {
namespace {

// The advisory lock every migration takes (any fixed 64-bit number that
// no other application on the database is likely to use: "mlgate" in ASCII).
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(120325850931557)";

// Each entry upgrades version i to i+1. Never edit a shipped entry: add one.
// Times are integer Unix milliseconds (UTC), as in the SQLite file.
constexpr std::array<const char*, kPgSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE mlgate_meta (
  key   TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
INSERT INTO mlgate_meta VALUES ('keys_generation', 0);
CREATE TABLE mlgate_api_keys (
  id           TEXT PRIMARY KEY,
  hash         TEXT NOT NULL UNIQUE,     -- SHA-256 of the key, hex; the key itself is never stored
  name         TEXT NOT NULL,
  owner        TEXT NOT NULL,
  tier         TEXT NOT NULL,
  scopes       TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  expires_at   BIGINT,
  revoked_at   BIGINT,
  last_used_at BIGINT,
  replaced_by  TEXT
);
CREATE TABLE mlgate_server_tiers (
  name    TEXT PRIMARY KEY,
  seen_at BIGINT NOT NULL
);
-- A key change bumps the generation and tells every listening instance.
CREATE FUNCTION mlgate_keys_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE mlgate_meta SET value = value + 1 WHERE key = 'keys_generation';
  PERFORM pg_notify('mlgate_keys', '');
  RETURN NULL;
END $$;
CREATE TRIGGER mlgate_api_keys_changed
  AFTER INSERT OR DELETE OR UPDATE OF hash, owner, tier, scopes, expires_at, revoked_at
  ON mlgate_api_keys FOR EACH STATEMENT EXECUTE FUNCTION mlgate_keys_changed();
CREATE TABLE mlgate_jobs (
  seq             BIGSERIAL PRIMARY KEY,  -- order of acceptance; list cursor
  uuid            TEXT NOT NULL UNIQUE,
  owner           TEXT NOT NULL,
  key_id          TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN
                    ('pending','running','completed','failed','canceled')),
  input           TEXT NOT NULL,
  attempts        INTEGER NOT NULL DEFAULT 0,
  result_label    TEXT,
  result_score    DOUBLE PRECISION,
  result          TEXT,
  error           TEXT,
  idempotency_key TEXT,
  request_hash    TEXT,
  created_at      BIGINT NOT NULL,
  started_at      BIGINT,
  finished_at     BIGINT,
  run_after       BIGINT NOT NULL DEFAULT 0,
  -- The instance running the job and until when (database clock, ms): a
  -- heartbeat renews it; once past, another instance takes the job over.
  lease_owner     TEXT,
  lease_until     BIGINT
);
CREATE INDEX mlgate_jobs_by_owner ON mlgate_jobs(owner, seq);
CREATE INDEX mlgate_jobs_pending ON mlgate_jobs(seq) WHERE status = 'pending';
CREATE INDEX mlgate_jobs_running ON mlgate_jobs(lease_until) WHERE status = 'running';
-- The unfinished count each insert batch checks the bound against: it reads
-- only the unfinished jobs, however many finished ones the table keeps.
CREATE INDEX mlgate_jobs_unfinished ON mlgate_jobs(seq) WHERE status IN ('pending','running');
CREATE INDEX mlgate_jobs_by_finish ON mlgate_jobs(finished_at) WHERE finished_at IS NOT NULL;
CREATE UNIQUE INDEX mlgate_jobs_by_idempotency ON mlgate_jobs(owner, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
)sql",
    // 2: an insert batch without idempotency keys in one statement: the
    // insert lock, the unfinished count against the bound, the rows that fit
    // (in the batch's order; the others are refused as the queue is full),
    // and the wake-up. One round trip and one commit per batch instead of
    // five round trips in a transaction. Each statement of a plpgsql
    // function takes a fresh snapshot (READ COMMITTED), so the count sees
    // every batch committed before the lock was granted. The lock number is
    // kInsertLock's (pg_job_store.cpp), which the keyed batches take.
    R"sql(
CREATE FUNCTION mlgate_insert_jobs(p_uuid TEXT[], p_owner TEXT[], p_key_id TEXT[], p_input TEXT[],
                                   p_created BIGINT[], p_max BIGINT, p_instance TEXT)
  RETURNS TABLE (job_uuid TEXT, job_seq BIGINT) LANGUAGE plpgsql AS $$
DECLARE
  room BIGINT;
BEGIN
  PERFORM pg_advisory_xact_lock(120325850931558);
  SELECT p_max - count(*) INTO room
    FROM (SELECT 1 FROM mlgate_jobs j WHERE j.status IN ('pending', 'running') LIMIT p_max) t;
  RETURN QUERY
    INSERT INTO mlgate_jobs AS j (uuid, owner, key_id, status, input, created_at)
    SELECT u.id, u.who, u.kid, 'pending', u.txt, u.at
      FROM unnest(p_uuid, p_owner, p_key_id, p_input, p_created) WITH ORDINALITY
           AS u(id, who, kid, txt, at, n)
     WHERE u.n <= room
     ORDER BY u.n
    RETURNING j.uuid, j.seq;
  IF FOUND THEN
    PERFORM pg_notify('mlgate_jobs', p_instance);
  END IF;
END $$;
)sql",
};

}  // namespace

int pg_schema_version(PgConn& c) {
  PgResult r = c.exec("SELECT to_regclass('mlgate_schema') IS NOT NULL");
  if (r.str(0, 0) != "t") return 0;
  r = c.exec("SELECT max(version) FROM mlgate_schema");
  return r.null(0, 0) ? 0 : static_cast<int>(r.i64(0, 0));
}

void pg_migrate(PgConn& c) {
  pg_transaction(c, [](PgConn& t) {
    t.exec(kMigrationLock);
    t.exec("CREATE TABLE IF NOT EXISTS mlgate_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
    int v = pg_schema_version(t);
    if (v > kPgSchemaVersion)
      throw PgSchemaTooNew("the database's mlgate schema is version " + std::to_string(v) +
                           ", newer than this mlgate understands (" +
                           std::to_string(kPgSchemaVersion) + "); upgrade mlgate");
    for (; v < kPgSchemaVersion; ++v) {
      t.exec(kMigrations[static_cast<size_t>(v)]);
      t.exec(std::string("INSERT INTO mlgate_schema VALUES ($1, ") + kPgNowMs + ")", {std::to_string(v + 1)});
    }
  });
}

std::array<uint8_t, 16> pg_database_secret(PgConn& c, const std::string& name) {
  std::array<uint8_t, 16> out{};
  for (int half = 0; half < 2; ++half) {
    const std::string key = name + "_" + std::to_string(half);
    int64_t fresh = 0;
    random_bytes(&fresh, sizeof fresh);
    c.exec("INSERT INTO mlgate_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
           {key, std::to_string(fresh)});
    PgResult r = c.exec("SELECT value FROM mlgate_meta WHERE key = $1", {key});
    const auto v = static_cast<uint64_t>(r.i64(0, 0));
    for (int i = 0; i < 8; ++i)
      out[static_cast<size_t>(8 * half + i)] = static_cast<uint8_t>(v >> (8 * i));
  }
  return out;
}

}  // namespace mlgate
