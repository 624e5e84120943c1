// sqlite_key_store.cpp: see sqlite_key_store.hpp.
#include "sqlite_key_store.hpp"

#include <stdexcept>
#include <utility>

#include "job_store.hpp"  // StorageUnavailable

namespace mlgate {

const char* const kSelectKeys =
    "SELECT id, name, owner, tier, scopes, created_at, expires_at, revoked_at, "
    "last_used_at, replaced_by, hash FROM api_keys";

KeyRecord read_key_record(const Stmt& st) {
  KeyRecord r;
  r.id = st.text(0);
  r.name = st.text(1);
  r.owner = st.text(2);
  r.tier = st.text(3);
  r.scopes = stored_scopes(st.text_view(4));
  r.created_at = st.i64(5);
  r.expires_at = st.opt_i64(6);
  r.revoked_at = st.opt_i64(7);
  r.last_used_at = st.opt_i64(8);
  r.replaced_by = st.opt_text(9);
  return r;
}

namespace {

// After a committed change: tells a running server's KeyCache (key_signal.hpp).
void signal_change(Db& db) {
  if (const char* path = sqlite3_db_filename(db.raw(), "main"); path && *path) bump_key_signal(path);
}

void insert_key(Db& db, const std::string& key, const KeyRecord& r) {
  KeyHash h = sha256(key);
  db.prepare(
        "INSERT INTO api_keys (id, hash, name, owner, tier, scopes, created_at, "
        "expires_at) VALUES (?,?,?,?,?,?,?,?)")
      .bind(1, r.id)
      .bind_blob(2, h.data(), h.size())
      .bind(3, r.name)
      .bind(4, r.owner)
      .bind(5, r.tier)
      .bind(6, format_scopes(r.scopes))
      .bind(7, r.created_at)
      .bind(8, r.expires_at)
      .run();
}

}  // namespace

NewKey create_key(Db& db, const KeyCreateOptions& opt, int64_t now_ms) {
  NewKey nk = make_new_key(opt, now_ms);
  insert_key(db, nk.key, nk.record);
  signal_change(db);
  return nk;
}

std::vector<KeyRecord> list_keys(Db& db) {
  std::vector<KeyRecord> out;
  Stmt st = db.prepare(std::string(kSelectKeys) + " ORDER BY created_at, id");
  while (st.step()) out.push_back(read_key_record(st));
  return out;
}

std::optional<KeyRecord> find_key(Db& db, std::string_view id) {
  Stmt st = db.prepare(std::string(kSelectKeys) + " WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_key_record(st);
}

bool revoke_key(Db& db, std::string_view id, int64_t now_ms) {
  Stmt st = db.prepare(
      "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?");
  st.bind(1, now_ms).bind(2, id).run();
  if (db.changes() == 0) return false;
  signal_change(db);
  return true;
}

std::optional<NewKey> rotate_key(Db& db, std::string_view id, int64_t grace_ms,
                                 int64_t now_ms) {
  Tx tx(db);
  auto old = find_key(db, id);
  if (!old || !old->active_at(now_ms)) return std::nullopt;
  NewKey nk = make_successor_key(*old, now_ms);
  insert_key(db, nk.key, nk.record);
  const int64_t end = rotated_key_end(*old, grace_ms, now_ms);
  db.prepare("UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?")
      .bind(1, end)
      .bind(2, nk.record.id)
      .bind(3, id)
      .run();
  tx.commit();
  signal_change(db);
  return nk;
}

void record_server_tiers(Db& db, const std::vector<std::string>& names, int64_t now_ms) {
  db.exec("DELETE FROM meta WHERE key LIKE 'server\\_tier:%' ESCAPE '\\'");
  Stmt st = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
  for (auto& n : names) {
    st.bind(1, "server_tier:" + n).bind(2, now_ms);
    st.run();
  }
}

std::vector<std::string> server_tiers(Db& db) {
  std::vector<std::string> out;
  Stmt st = db.prepare("SELECT substr(key, 13) FROM meta WHERE key LIKE 'server\\_tier:%' ESCAPE '\\' "
                       "ORDER BY key");
  while (st.step()) out.push_back(st.text(0));
  return out;
}

SqliteKeyStore::SqliteKeyStore(KeyStoreOptions opt) : opt_(std::move(opt)) {
  if (opt_.serve) cache_ = std::make_unique<KeyCache>(opt_.path, opt_.change_signal);
}

template <class F>
auto SqliteKeyStore::manage(F&& fn) {
  std::lock_guard lock(db_mu_);
  try {
    if (!db_) db_ = Db::open(opt_.path);
    return fn(*db_);
  } catch (const DbError& e) {
    if (e.is_storage_failure()) throw StorageUnavailable(e.what());
    throw;
  }
}

NewKey SqliteKeyStore::create(const KeyCreateOptions& opt, int64_t now_ms) {
  return manage([&](Db& db) { return create_key(db, opt, now_ms); });
}

std::vector<KeyRecord> SqliteKeyStore::list() {
  return manage([&](Db& db) { return list_keys(db); });
}

std::optional<KeyRecord> SqliteKeyStore::find(std::string_view id) {
  return manage([&](Db& db) { return find_key(db, id); });
}

bool SqliteKeyStore::revoke(std::string_view id, int64_t now_ms) {
  return manage([&](Db& db) { return revoke_key(db, id, now_ms); });
}

std::optional<NewKey> SqliteKeyStore::rotate(std::string_view id, int64_t grace_ms, int64_t now_ms) {
  return manage([&](Db& db) { return rotate_key(db, id, grace_ms, now_ms); });
}

void SqliteKeyStore::record_server_tiers(const std::vector<std::string>& names, int64_t now_ms) {
  manage([&](Db& db) {
    Tx tx(db);  // the old list and the new one never both, never neither
    mlgate::record_server_tiers(db, names, now_ms);
    tx.commit();
  });
}

std::vector<std::string> SqliteKeyStore::server_tiers() {
  return manage([&](Db& db) { return mlgate::server_tiers(db); });
}

KeyCache& SqliteKeyStore::cache() const {
  if (!cache_) throw std::logic_error("this key store was opened for management only");
  return *cache_;
}

std::shared_ptr<const KeyRecord> SqliteKeyStore::authenticate(std::string_view presented,
                                                              int64_t now_ms) {
  return cache().authenticate(presented, now_ms);
}

bool SqliteKeyStore::refresh() {
  try {
    return cache().refresh();
  } catch (const DbError& e) {
    if (e.is_storage_failure()) throw StorageUnavailable(e.what());
    throw;
  }
}

void SqliteKeyStore::flush_last_used() {
  try {
    cache().flush_last_used();
  } catch (const DbError& e) {
    if (e.is_storage_failure()) throw StorageUnavailable(e.what());
    throw;
  }
}

size_t SqliteKeyStore::size() const { return cache().size(); }

std::vector<std::string> SqliteKeyStore::active_outside(
    const std::map<std::string, std::string>& tiers, int64_t now_ms) const {
  return cache().active_outside(tiers, now_ms);
}

}  // namespace mlgate
