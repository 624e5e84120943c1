// Unit tests for key_store.hpp: key records, their management, and the
// server's in-memory KeyCache. Times are passed in, never slept on.
#include <doctest/doctest.h>

#include <string>

#include "api_key.hpp"
#include "db.hpp"
#include "sqlite_key_store.hpp"
#include "schema.hpp"
#include "temp_dir.hpp"
#include "../contract/key_store_contract.hpp"

using namespace mlgate;

namespace {

constexpr int64_t T0 = 1'800'000'000'000;  // an arbitrary wall time, ms

// A migrated database file in a fresh directory, and a management
// connection to it (the CLI's role); KeyCache opens its own.
struct TempDb {
  testutil::TempDir dir{"mlgate-keys-"};
  std::string path = dir.file("mlgate.db");
  Db db;  // closed before dir is removed (members go in reverse order)
  TempDb() {
    db = Db::open(path);
    migrate(db);
  }
  NewKey create(const std::string& name, int64_t now = T0,
                std::optional<int64_t> expires_in = std::nullopt) {
    KeyCreateOptions o;
    o.name = name;
    o.expires_in_ms = expires_in;
    return create_key(db, o, now);
  }
};

// A key whose checksum is right but which no record has.
std::string unknown_key() { return generate_api_key(); }

}  // namespace

// ------------------------------------------------------------------ scopes

TEST_CASE("scopes parse from a comma-separated list and format back in a fixed order") {
  CHECK(parse_scopes("predict") == kScopePredict);
  CHECK(parse_scopes("read,predict") == (kScopePredict | kScopeRead));
  CHECK(parse_scopes("metrics,read") == (kScopeMetrics | kScopeRead));
  CHECK(parse_scopes("predict,predict") == kScopePredict);
  for (uint32_t bits = 1; bits <= kAllScopes; ++bits)
    if ((bits & kAllScopes) == bits) CHECK(parse_scopes(format_scopes(bits)) == bits);
  CHECK(format_scopes(kScopeMetrics | kScopePredict) == "predict,metrics");
  CHECK(format_scopes(0).empty());
}

TEST_CASE("an unknown, empty or misspelled scope is refused, not dropped") {
  CHECK_FALSE(parse_scopes(""));
  CHECK_FALSE(parse_scopes("bogus"));
  CHECK_FALSE(parse_scopes("Predict"));
  CHECK_FALSE(parse_scopes("predict,bogus"));
  CHECK_FALSE(parse_scopes("predict, read"));
  CHECK_FALSE(parse_scopes("predict,,read"));
  CHECK_FALSE(parse_scopes("predict,"));
  CHECK_FALSE(parse_scopes(",read"));
  CHECK_FALSE(parse_scopes(","));
  // "admin" was granted but no route ever required it: it is no scope now.
  CHECK_FALSE(parse_scopes("admin"));
  CHECK_FALSE(parse_scopes("predict,admin"));
}

TEST_CASE("a key stored with the retired admin scope keeps its other scopes") {
  TempDb t;
  NewKey nk = t.create("old");
  t.db.prepare("UPDATE api_keys SET scopes = 'predict,admin,read' WHERE id = ?")
      .bind(1, nk.record.id)
      .run();
  auto k = find_key(t.db, nk.record.id);
  REQUIRE(k);
  CHECK(k->scopes == (kScopePredict | kScopeRead));
  KeyCache cache(t.path);
  auto r = cache.authenticate(nk.key, T0 + 1);
  REQUIRE(r);
  CHECK(r->scopes == (kScopePredict | kScopeRead));
}

// ----------------------------------------------------------- management

TEST_CASE("a server's tiers are recorded at each start, replacing the last start's") {
  TempDb t;
  CHECK(server_tiers(t.db).empty());
  record_server_tiers(t.db, {"free", "premium", "gold"}, T0);
  CHECK(server_tiers(t.db) == std::vector<std::string>{"free", "gold", "premium"});
  record_server_tiers(t.db, {"free", "premium"}, T0 + 1);
  CHECK(server_tiers(t.db) == std::vector<std::string>{"free", "premium"});
  // Recording them is not a key change: a running server does not reload.
  KeyCache cache(t.path);
  record_server_tiers(t.db, {"free"}, T0 + 2);
  CHECK_FALSE(cache.refresh());
}

TEST_CASE("create_key stores only the hash and the record's fields") {
  TempDb t;
  KeyCreateOptions o;
  o.name = "alice";
  o.tier = "premium";
  o.scopes = kScopeRead | kScopeMetrics;
  o.expires_in_ms = 60'000;
  NewKey nk = create_key(t.db, o, T0);
  CHECK(check_format(nk.key));
  auto r = find_key(t.db, nk.record.id);
  REQUIRE(r);
  CHECK(r->name == "alice");
  CHECK(r->owner == "alice");  // the owner defaults to the name
  CHECK(r->tier == "premium");
  CHECK(r->scopes == (kScopeRead | kScopeMetrics));
  CHECK(r->created_at == T0);
  CHECK(r->expires_at == T0 + 60'000);
  CHECK_FALSE(r->revoked_at);
  CHECK_FALSE(r->last_used_at);
  // The hash column holds the key's SHA-256, and no column holds the key or
  // its random body (read with the C API to see every column there is).
  KeyHash want = sha256(nk.key);
  std::string body = nk.key.substr(4, kKeyBodyLen);
  sqlite3_stmt* raw = nullptr;
  REQUIRE(sqlite3_prepare_v2(t.db.raw(), "SELECT * FROM api_keys", -1, &raw, nullptr) ==
          SQLITE_OK);
  REQUIRE(sqlite3_step(raw) == SQLITE_ROW);
  bool hash_seen = false;
  for (int c = 0; c < sqlite3_column_count(raw); ++c) {
    const void* p = sqlite3_column_blob(raw, c);
    int n = sqlite3_column_bytes(raw, c);
    std::string value(p ? static_cast<const char*>(p) : "", static_cast<size_t>(n));
    CHECK_MESSAGE(value.find(body) == std::string::npos, sqlite3_column_name(raw, c));
    if (value == std::string(want.begin(), want.end())) hash_seen = true;
  }
  sqlite3_finalize(raw);
  CHECK(hash_seen);
}

TEST_CASE("revoke is idempotent and keeps the first revocation time") {
  TempDb t;
  NewKey nk = t.create("alice");
  CHECK(revoke_key(t.db, nk.record.id, T0 + 10));
  CHECK(revoke_key(t.db, nk.record.id, T0 + 20));
  auto r = find_key(t.db, nk.record.id);
  REQUIRE(r);
  CHECK(r->revoked_at == T0 + 10);
  CHECK_FALSE(revoke_key(t.db, "key_doesnotexist", T0));
}

TEST_CASE("rotate gives a new key with the old owner, tier and scopes and ends the old at now + grace") {
  TempDb t;
  KeyCreateOptions o;
  o.name = "box-1";
  o.owner = "acme";
  o.tier = "premium";
  o.scopes = kScopePredict | kScopeMetrics;
  NewKey old = create_key(t.db, o, T0);
  auto nk = rotate_key(t.db, old.record.id, 5'000, T0 + 100);
  REQUIRE(nk);
  CHECK(nk->key != old.key);
  CHECK(check_format(nk->key));
  CHECK(nk->record.id != old.record.id);
  auto o2 = find_key(t.db, old.record.id);
  auto n2 = find_key(t.db, nk->record.id);
  REQUIRE(o2);
  REQUIRE(n2);
  CHECK(o2->expires_at == T0 + 100 + 5'000);
  CHECK(o2->replaced_by == nk->record.id);
  CHECK_FALSE(o2->revoked_at);
  CHECK(n2->owner == "acme");
  CHECK(n2->tier == "premium");
  CHECK(n2->scopes == (kScopePredict | kScopeMetrics));
  CHECK(n2->created_at == T0 + 100);
  CHECK_FALSE(n2->expires_at);
  CHECK_FALSE(n2->replaced_by);
}

TEST_CASE("rotate never extends the old key past its own earlier expiry") {
  TempDb t;
  NewKey old = t.create("alice", T0, 1'000);
  auto nk = rotate_key(t.db, old.record.id, 60'000, T0 + 10);
  REQUIRE(nk);
  CHECK(find_key(t.db, old.record.id)->expires_at == T0 + 1'000);
}

TEST_CASE("rotate with no grace ends the old key at once") {
  TempDb t;
  NewKey old = t.create("alice");
  REQUIRE(rotate_key(t.db, old.record.id, 0, T0 + 10));
  auto r = find_key(t.db, old.record.id);
  CHECK(r->expires_at == T0 + 10);
  CHECK_FALSE(r->active_at(T0 + 10));
}

TEST_CASE("rotate refuses an unknown, revoked or expired key") {
  TempDb t;
  CHECK_FALSE(rotate_key(t.db, "key_doesnotexist", 0, T0));
  NewKey a = t.create("a");
  revoke_key(t.db, a.record.id, T0 + 1);
  CHECK_FALSE(rotate_key(t.db, a.record.id, 0, T0 + 2));
  NewKey b = t.create("b", T0, 1'000);
  CHECK_FALSE(rotate_key(t.db, b.record.id, 0, T0 + 1'000));
  CHECK(list_keys(t.db).size() == 2);  // nothing was created by the refusals
}

// ------------------------------------------------------------- KeyCache

TEST_CASE("KeyCache accepts a valid key and returns its record") {
  TempDb t;
  NewKey nk = t.create("alice");
  KeyCache cache(t.path);
  auto r = cache.authenticate(nk.key, T0 + 1);
  REQUIRE(r);
  CHECK(r->id == nk.record.id);
  CHECK(r->owner == "alice");
}

TEST_CASE("a wrong-checksum or malformed key is refused with zero lookups") {
  TempDb t;
  NewKey nk = t.create("alice");
  KeyCache cache(t.path);
  std::string bad_checksum = nk.key;
  bad_checksum.back() = bad_checksum.back() == 'a' ? 'b' : 'a';
  for (std::string k : {bad_checksum, std::string(), std::string("mlg_"),
                        std::string("not a key at all"), nk.key + "x",
                        "MLG_" + nk.key.substr(4)}) {
    CHECK_FALSE(cache.authenticate(k, T0 + 1));
  }
  CHECK(cache.lookups() == 0);
  // Control: the same cache does count a well-formed key's lookup.
  CHECK(cache.authenticate(nk.key, T0 + 1));
  CHECK(cache.lookups() > 0);
}

TEST_CASE("every refusal hashes the presented value, whatever was wrong with it") {
  TempDb t;
  NewKey revoked = t.create("revoked");
  NewKey expired = t.create("expired", T0, 1'000);
  revoke_key(t.db, revoked.record.id, T0 + 1);
  KeyCache cache(t.path);
  std::string bad_checksum = revoked.key;
  bad_checksum.back() = bad_checksum.back() == 'a' ? 'b' : 'a';
  const std::string cases[] = {"", "garbage", bad_checksum, unknown_key(), revoked.key,
                               expired.key};
  uint64_t hashes = cache.hashes();
  for (auto& k : cases) {
    CHECK_FALSE(cache.authenticate(k, T0 + 5'000));
    CHECK(cache.hashes() == ++hashes);
  }
}

TEST_CASE("unknown, revoked and expired keys take the same path through the cache") {
  TempDb t;
  NewKey revoked = t.create("revoked");
  NewKey expired = t.create("expired", T0, 1'000);
  revoke_key(t.db, revoked.record.id, T0 + 1);
  KeyCache cache(t.path);
  std::string unknown = unknown_key();
  uint64_t per_case[3];
  int i = 0;
  for (auto* k : {&unknown, &revoked.key, &expired.key}) {
    uint64_t before = cache.lookups();
    CHECK_FALSE(cache.authenticate(*k, T0 + 5'000));
    per_case[i++] = cache.lookups() - before;
  }
  // Each is looked up, offered one miss-refresh, and looked up again.
  CHECK(per_case[0] == 2);
  CHECK(per_case[1] == per_case[0]);
  CHECK(per_case[2] == per_case[0]);
}

TEST_CASE("expiry is checked against the clock passed in, on every call") {
  TempDb t;
  NewKey nk = t.create("alice", T0, 1'000);
  KeyCache cache(t.path);
  CHECK(cache.authenticate(nk.key, T0 + 999));
  CHECK_FALSE(cache.authenticate(nk.key, T0 + 1'000));
  CHECK_FALSE(cache.authenticate(nk.key, T0 + 50'000));
  CHECK(cache.authenticate(nk.key, T0 + 500));  // no state kept from a refusal
}

TEST_CASE("a rotated key works until now + grace and not after, once the cache refreshes") {
  TempDb t;
  NewKey old = t.create("alice");
  KeyCache cache(t.path);
  auto nk = rotate_key(t.db, old.record.id, 3'000, T0 + 100);
  REQUIRE(nk);
  CHECK(cache.refresh());
  CHECK(cache.authenticate(old.key, T0 + 3'099));
  CHECK_FALSE(cache.authenticate(old.key, T0 + 3'100));
  auto r = cache.authenticate(nk->key, T0 + 3'100);
  REQUIRE(r);
  CHECK(r->owner == "alice");
}

TEST_CASE("refresh reloads after another connection changes a key, and not otherwise") {
  TempDb t;
  NewKey a = t.create("alice");
  KeyCache cache(t.path);
  CHECK(cache.size() == 1);
  CHECK_FALSE(cache.refresh());  // nothing changed

  NewKey b = t.create("bob");
  CHECK(cache.refresh());
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.refresh());

  // A commit that touches no key field moves data_version but not the
  // trigger-kept generation: no reload.
  t.db.exec("UPDATE api_keys SET last_used_at = 5");
  t.db.exec("INSERT INTO meta VALUES ('unrelated', 1)");
  CHECK_FALSE(cache.refresh());

  // A revocation is a key change: the revoked key stops working.
  REQUIRE(cache.authenticate(a.key, T0 + 1));
  revoke_key(t.db, a.record.id, T0 + 2);
  CHECK(cache.refresh());
  CHECK_FALSE(cache.authenticate(a.key, T0 + 3));
  CHECK(cache.authenticate(b.key, T0 + 3));
}

TEST_CASE("a revoked key keeps working from a stale snapshot only until refresh") {
  TempDb t;
  NewKey a = t.create("alice");
  KeyCache cache(t.path);
  revoke_key(t.db, a.record.id, T0 + 2);
  // authenticate never reads storage for a key it finds in the snapshot:
  // the server's 250 ms refresh is what makes revocation take effect.
  CHECK(cache.authenticate(a.key, T0 + 3));
  cache.refresh();
  CHECK_FALSE(cache.authenticate(a.key, T0 + 3));
}

TEST_CASE("a key created after the cache loaded works at once through the miss-refresh") {
  TempDb t;
  KeyCache cache(t.path);
  NewKey nk = t.create("late");
  CHECK(cache.authenticate(nk.key, T0 + 1));
}

TEST_CASE("a key created right after an unknown key was refused works on its first request") {
  // The miss-refresh is throttled for the whole cache; a throttled miss
  // used to be refused without looking, so a key committed in the 10 ms
  // after someone else's wrong key was refused (issue 12). With the
  // key-change signal and without it (the database path).
  for (bool signal : {true, false}) {
    CAPTURE(signal);
    TempDb t;
    KeyCache cache(t.path, signal);
    for (int i = 0; i < 20; ++i) {
      CAPTURE(i);
      CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
      NewKey nk = t.create("late-" + std::to_string(i));
      CHECK(cache.authenticate(nk.key, T0 + 1));
    }
  }
}

TEST_CASE("a flood of unknown keys costs no database read while no key was written") {
  TempDb t;
  t.create("alice");
  KeyCache cache(t.path);
  uint64_t dv = cache.data_version_reads(), gen = cache.generation_reads();
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
  // A commit that is not a key change (as every accepted job is) does not
  // move the signal either.
  t.db.exec("INSERT INTO meta VALUES ('unrelated', 1)");
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
  CHECK(cache.data_version_reads() == dv);
  CHECK(cache.generation_reads() == gen);
  // A key change does: the next miss looks, once.
  NewKey bob = t.create("bob");
  CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
  CHECK(cache.authenticate(bob.key, T0 + 1));
  CHECK(cache.generation_reads() == gen + 1);
}

TEST_CASE("without the signal, unknown keys read the key table only when something was committed") {
  TempDb t;
  t.create("alice");
  KeyCache cache(t.path, false);
  uint64_t reads = cache.generation_reads();
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
  CHECK(cache.generation_reads() == reads);  // nothing committed: data_version only
  // Any commit costs at most one read per miss-refresh interval, not one per miss.
  t.db.exec("INSERT INTO meta VALUES ('unrelated', 1)");
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(cache.authenticate(unknown_key(), T0 + 1));
  CHECK(cache.generation_reads() == reads + 1);
}

TEST_CASE("last_used_at is written only by flush_last_used, in one batch") {
  TempDb t;
  NewKey a = t.create("alice");
  NewKey b = t.create("bob");
  KeyCache cache(t.path);
  REQUIRE(cache.authenticate(a.key, T0 + 10));
  REQUIRE(cache.authenticate(a.key, T0 + 20));
  REQUIRE(cache.authenticate(b.key, T0 + 15));
  CHECK_FALSE(find_key(t.db, a.record.id)->last_used_at);  // no write per request
  cache.flush_last_used();
  CHECK(find_key(t.db, a.record.id)->last_used_at == T0 + 20);
  CHECK(find_key(t.db, b.record.id)->last_used_at == T0 + 15);
  // A flush does not reload the cache (last_used_at is not a key change)...
  CHECK_FALSE(cache.refresh());
  // ...and a later flush with an older time never moves it backwards.
  REQUIRE(cache.authenticate(a.key, T0 + 5));
  cache.flush_last_used();
  CHECK(find_key(t.db, a.record.id)->last_used_at == T0 + 20);
}

TEST_CASE("a failed flush keeps its batch for the next one") {
  TempDb t;
  NewKey a = t.create("alice");
  KeyCache cache(t.path);
  REQUIRE(cache.authenticate(a.key, T0 + 10));
  // Another connection holds the write lock past the busy timeout... too
  // slow for a unit test, so the table is made unwritable instead.
  t.db.exec("CREATE TRIGGER no_writes BEFORE UPDATE OF last_used_at ON api_keys "
            "BEGIN SELECT RAISE(ABORT, 'read-only for the test'); END");
  CHECK_THROWS_AS(cache.flush_last_used(), DbError);
  t.db.exec("DROP TRIGGER no_writes");
  cache.flush_last_used();
  CHECK(find_key(t.db, a.record.id)->last_used_at == T0 + 10);
}

// ---- the KeyStore contract (tests/contract), on the SQLite file ----

namespace {
struct SqliteKeyBackend : contract::KeyStoreBackend {
  TempDb db;  // migrated, as the server or the CLI leaves it
  std::unique_ptr<KeyStore> open_admin() override {
    return std::make_unique<SqliteKeyStore>(KeyStoreOptions{db.path, false});
  }
  std::unique_ptr<KeyStore> open_server() override {
    return std::make_unique<SqliteKeyStore>(KeyStoreOptions{db.path, true});
  }
};
}  // namespace

MLGATE_KEY_STORE_CONTRACT("sqlite", [] { return std::make_unique<SqliteKeyBackend>(); })
