#include "key_store.hpp"

#include <stdexcept>

#include "clock.hpp"

namespace mlgate {
namespace {

constexpr std::pair<const char*, uint32_t> kScopeNames[] = {
    {"predict", kScopePredict},
    {"read", kScopeRead},
    {"admin", kScopeAdmin},
    {"metrics", kScopeMetrics},
};

constexpr const char* kSelectKeys =
    "SELECT id, name, owner, tier, scopes, created_at, expires_at, revoked_at, "
    "last_used_at, replaced_by, hash FROM api_keys";

KeyRecord read_record(const Stmt& st) {
  KeyRecord r;
  r.id = st.text(0);
  r.name = st.text(1);
  r.owner = st.text(2);
  r.tier = st.text(3);
  r.scopes = parse_scopes(st.text_view(4)).value_or(0);
  r.created_at = st.i64(5);
  r.expires_at = st.opt_i64(6);
  r.revoked_at = st.opt_i64(7);
  r.last_used_at = st.opt_i64(8);
  r.replaced_by = st.opt_text(9);
  return r;
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

std::optional<uint32_t> parse_scopes(std::string_view csv) {
  uint32_t bits = 0;
  while (!csv.empty()) {
    size_t comma = csv.find(',');
    std::string_view name = csv.substr(0, comma);
    csv = comma == std::string_view::npos ? std::string_view() : csv.substr(comma + 1);
    uint32_t bit = 0;
    for (auto& [n, b] : kScopeNames)
      if (name == n) bit = b;
    if (!bit) return std::nullopt;
    bits |= bit;
  }
  if (!bits) return std::nullopt;
  return bits;
}

std::string format_scopes(uint32_t scopes) {
  std::string out;
  for (auto& [n, b] : kScopeNames) {
    if (!(scopes & b)) continue;
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

NewKey create_key(Db& db, const KeyCreateOptions& opt, int64_t now_ms) {
  NewKey nk;
  nk.key = generate_api_key();
  KeyRecord& r = nk.record;
  r.id = generate_key_id();
  r.name = opt.name;
  r.owner = opt.owner.empty() ? opt.name : opt.owner;
  r.tier = opt.tier;
  r.scopes = opt.scopes;
  r.created_at = now_ms;
  if (opt.expires_in_ms) r.expires_at = now_ms + *opt.expires_in_ms;
  insert_key(db, nk.key, r);
  return nk;
}

std::vector<KeyRecord> list_keys(Db& db) {
  std::vector<KeyRecord> out;
  Stmt st = db.prepare(std::string(kSelectKeys) + " ORDER BY created_at, id");
  while (st.step()) out.push_back(read_record(st));
  return out;
}

std::optional<KeyRecord> find_key(Db& db, std::string_view id) {
  Stmt st = db.prepare(std::string(kSelectKeys) + " WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_record(st);
}

bool revoke_key(Db& db, std::string_view id, int64_t now_ms) {
  Stmt st = db.prepare(
      "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?");
  st.bind(1, now_ms).bind(2, id).run();
  return db.changes() > 0;
}

std::optional<NewKey> rotate_key(Db& db, std::string_view id, int64_t grace_ms,
                                 int64_t now_ms) {
  Tx tx(db);
  auto old = find_key(db, id);
  if (!old || !old->active_at(now_ms)) return std::nullopt;
  NewKey nk;
  nk.key = generate_api_key();
  nk.record = *old;
  nk.record.id = generate_key_id();
  nk.record.created_at = now_ms;
  nk.record.last_used_at.reset();
  nk.record.replaced_by.reset();
  insert_key(db, nk.key, nk.record);
  // The old key ends at the grace deadline, or earlier if it already would.
  int64_t end = now_ms + grace_ms;
  if (old->expires_at && *old->expires_at < end) end = *old->expires_at;
  db.prepare("UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ?")
      .bind(1, end)
      .bind(2, nk.record.id)
      .bind(3, id)
      .run();
  tx.commit();
  return nk;
}

KeyCache::KeyCache(const std::string& db_path)
    : db_(Db::open(db_path)), snapshot_(std::make_shared<const Map>()) {
  refresh();
}

std::shared_ptr<const KeyRecord> KeyCache::authenticate(std::string_view presented,
                                                        int64_t now_ms) {
  // Hash every presented value, well-formed or not, so that the time spent
  // does not depend on how the key was wrong.
  bool well_formed = check_format(presented);
  KeyHash h = sha256(presented);
  if (!well_formed) return nullptr;  // refused without consulting the keys
  lookups_.fetch_add(1, std::memory_order_relaxed);
  auto snap = snapshot_.load(std::memory_order_acquire);
  auto it = snap->find(h);
  if (it == snap->end()) {
    // Perhaps created a moment ago by the CLI: look once more, rarely.
    int64_t now = mono_ns(), last = last_miss_refresh_ns_.load();
    if (now - last < kMissRefreshNs ||
        !last_miss_refresh_ns_.compare_exchange_strong(last, now))
      return nullptr;
    try {
      if (!refresh()) return nullptr;
    } catch (const DbError&) {
      return nullptr;
    }
    snap = snapshot_.load(std::memory_order_acquire);
    it = snap->find(h);
    if (it == snap->end()) return nullptr;
  }
  if (!it->second->active_at(now_ms)) return nullptr;
  {
    std::lock_guard lock(used_mu_);
    used_[it->second->id] = now_ms;
  }
  return it->second;
}

bool KeyCache::refresh() {
  std::unique_lock lock(db_mu_, std::try_to_lock);
  if (!lock) return false;
  // data_version changes only when another connection commits: no I/O.
  int64_t dv = db_.pragma_int("data_version");
  if (dv == data_version_) return false;
  data_version_ = dv;
  Stmt st = db_.prepare("SELECT value FROM meta WHERE key = 'keys_generation'");
  int64_t gen = st.step() ? st.i64(0) : 0;
  if (gen == generation_) return false;
  generation_ = gen;
  reload();
  return true;
}

void KeyCache::reload() {
  auto map = std::make_shared<Map>();
  Stmt st = db_.prepare(kSelectKeys);
  while (st.step()) {
    KeyHash h{};
    auto hv = st.blob_view(10);
    if (hv.size() != h.size()) continue;  // not a SHA-256: cannot match any key
    std::memcpy(h.data(), hv.data(), h.size());
    (*map)[h] = std::make_shared<const KeyRecord>(read_record(st));
  }
  snapshot_.store(std::move(map), std::memory_order_release);
}

void KeyCache::flush_last_used() {
  std::lock_guard db_lock(db_mu_);
  std::unordered_map<std::string, int64_t> batch;
  {
    std::lock_guard lock(used_mu_);
    batch.swap(used_);
  }
  if (batch.empty()) return;
  Tx tx(db_);
  Stmt st = db_.prepare(
      "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) "
      "WHERE id = ?");
  for (auto& [id, when] : batch) {
    st.bind(1, when).bind(2, id);
    st.run();
  }
  tx.commit();
}

size_t KeyCache::size() const { return snapshot_.load()->size(); }

}  // namespace mlgate
