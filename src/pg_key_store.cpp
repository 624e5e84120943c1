#include "pg_key_store.hpp"

#include <algorithm>
#include <thread>

#include "api_key.hpp"
#include "clock.hpp"
#include "hex.hpp"
#include "job_store.hpp"  // StorageUnavailable
#include "pg_listener.hpp"
#include "pg_schema.hpp"

namespace mlgate {
namespace {

constexpr const char* kKeyCols =
    "id, name, owner, tier, scopes, created_at, expires_at, revoked_at, last_used_at, replaced_by, hash";
// Generation reads on behalf of misses, at most this often.
constexpr int64_t kMissRefreshNs = 10'000'000;

KeyRecord read_key(const PgResult& r, int row) {
  KeyRecord k;
  k.id = r.str(row, 0);
  k.name = r.str(row, 1);
  k.owner = r.str(row, 2);
  k.tier = r.str(row, 3);
  k.scopes = stored_scopes(r.str(row, 4));
  k.created_at = r.i64(row, 5);
  k.expires_at = r.opt_i64(row, 6);
  k.revoked_at = r.opt_i64(row, 7);
  k.last_used_at = r.opt_i64(row, 8);
  k.replaced_by = r.opt_str(row, 9);
  return k;
}

std::optional<KeyHash> unhex_hash(const std::string& s) {
  if (s.size() != 64) return std::nullopt;
  KeyHash h{};
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    int hi = v(s[2 * i]), lo = v(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return h;
}

void insert_key(PgConn& c, const std::string& key, const KeyRecord& r) {
  c.exec("INSERT INTO mlgate_api_keys (id, hash, name, owner, tier, scopes, created_at, expires_at) "
         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
         {r.id, to_hex(sha256(key).data(), sizeof(KeyHash)), r.name, r.owner, r.tier, format_scopes(r.scopes),
          std::to_string(r.created_at),
          r.expires_at ? PgParam(std::to_string(*r.expires_at)) : std::nullopt});
}

std::optional<KeyRecord> find_in(PgConn& c, std::string_view id) {
  PgResult r = c.exec(std::string("SELECT ") + kKeyCols + " FROM mlgate_api_keys WHERE id = $1",
                      {std::string(id)});
  if (r.rows() == 0) return std::nullopt;
  return read_key(r, 0);
}

}  // namespace

PgKeyStore::PgKeyStore(PgKeyStoreOptions opt)
    : opt_(std::move(opt)), pool_(opt_.pg, opt_.serve ? 2 : 1) {
  {
    auto c = pool_.take();
    pg_migrate(*c);
  }
  if (opt_.serve) {
    refresh();
    if (opt_.listen)
      listener_ = std::make_unique<PgListener>(
          opt_.pg, std::vector<std::string>{"mlgate_keys"},
          [this](const std::string&, const std::string&) {
            try {
              refresh();
            } catch (const std::exception&) {
              // The server's periodic refresh reports it.
            }
          },
          [this] {
            try {
              refresh();  // changes made while we were not listening
            } catch (const std::exception&) {
            }
          });
  }
}

PgKeyStore::~PgKeyStore() { listener_.reset(); }

// An SQL error from a server that answers (tables changed by hand) is, to
// the caller, storage that cannot serve (throw_unavailable, pg_conn.hpp).
template <class F>
auto PgKeyStore::manage(F&& fn) {
  try {
    auto c = pool_.take();
    return fn(*c);
  } catch (const PgError& e) {
    throw_unavailable(e);
  }
}

template <class F>
auto PgKeyStore::manage_tx(F&& fn) {
  try {
    return pool_.tx(std::forward<F>(fn));
  } catch (const PgError& e) {
    throw_unavailable(e);
  }
}

// ---- management

NewKey PgKeyStore::create(const KeyCreateOptions& opt, int64_t now_ms) {
  NewKey nk = make_new_key(opt, now_ms);
  manage([&](PgConn& c) { insert_key(c, nk.key, nk.record); });
  return nk;
}

std::vector<KeyRecord> PgKeyStore::list() {
  return manage([&](PgConn& c) {
    std::vector<KeyRecord> out;
    PgResult r = c.exec(std::string("SELECT ") + kKeyCols + " FROM mlgate_api_keys ORDER BY created_at, id");
    for (int i = 0; i < r.rows(); ++i) out.push_back(read_key(r, i));
    return out;
  });
}

std::optional<KeyRecord> PgKeyStore::find(std::string_view id) {
  return manage([&](PgConn& c) { return find_in(c, id); });
}

bool PgKeyStore::revoke(std::string_view id, int64_t now_ms) {
  return manage([&](PgConn& c) {
    PgResult r = c.exec("UPDATE mlgate_api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 "
                        "RETURNING id",
                        {std::to_string(now_ms), std::string(id)});
    return r.rows() > 0;
  });
}

std::optional<NewKey> PgKeyStore::rotate(std::string_view id, int64_t grace_ms, int64_t now_ms) {
  return manage_tx([&](PgConn& c) -> std::optional<NewKey> {
    PgResult lock = c.exec(std::string("SELECT ") + kKeyCols + " FROM mlgate_api_keys WHERE id = $1 FOR UPDATE",
                           {std::string(id)});
    if (lock.rows() == 0) return std::nullopt;
    KeyRecord old = read_key(lock, 0);
    if (!old.active_at(now_ms)) return std::nullopt;
    NewKey nk = make_successor_key(old, now_ms);
    insert_key(c, nk.key, nk.record);
    const int64_t end = rotated_key_end(old, grace_ms, now_ms);
    c.exec("UPDATE mlgate_api_keys SET expires_at = $1, replaced_by = $2 WHERE id = $3",
           {std::to_string(end), nk.record.id, std::string(id)});
    return nk;
  });
}

void PgKeyStore::record_server_tiers(const std::vector<std::string>& names, int64_t now_ms) {
  manage_tx([&](PgConn& c) {
    // Instances on one database share one list: each start replaces it,
    // as with one SQLite file (instances are expected to share tiers).
    c.exec("DELETE FROM mlgate_server_tiers");
    for (const auto& n : names)
      c.exec("INSERT INTO mlgate_server_tiers VALUES ($1, $2)", {n, std::to_string(now_ms)});
  });
}

std::vector<std::string> PgKeyStore::server_tiers() {
  return manage([&](PgConn& c) {
    std::vector<std::string> out;
    PgResult r = c.exec("SELECT name FROM mlgate_server_tiers ORDER BY name");
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.str(i, 0));
    return out;
  });
}

// ---- serving

std::shared_ptr<const KeyRecord> PgKeyStore::authenticate(std::string_view presented, int64_t now_ms) {
  if (!opt_.serve) throw std::logic_error("this key store was opened for management only");
  return keys_.authenticate(presented, now_ms, [this](int64_t arrived_ns) {
    try {
      refresh_for_miss(arrived_ns);
    } catch (const StorageUnavailable&) {
      // The database is down: the key is refused; /health says why.
    }
  });
}

bool PgKeyStore::check_locked() {
  const int64_t started = mono_ns();
  last_read_ns_ = started;
  bool changed = manage([&](PgConn& c) {
    int64_t gen = c.exec("SELECT value FROM mlgate_meta WHERE key = 'keys_generation'").i64(0, 0);
    if (gen == generation_) return false;
    // The generation and the rows in one snapshot of the database.
    return pg_transaction(c, [&](PgConn& t) {
      gen = t.exec("SELECT value FROM mlgate_meta WHERE key = 'keys_generation'").i64(0, 0);
      PgResult r = t.exec(std::string("SELECT ") + kKeyCols + " FROM mlgate_api_keys");
      KeySnapshot::Builder next(keys_);
      for (int i = 0; i < r.rows(); ++i)
        if (auto h = unhex_hash(r.str(i, 10))) next.add(*h, read_key(r, i));
      keys_.replace(std::move(next));
      generation_ = gen;
      return true;
    }, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  });
  last_check_ns_ = started;
  return changed;
}

bool PgKeyStore::refresh() {
  if (!opt_.serve) throw std::logic_error("this key store was opened for management only");
  std::lock_guard lock(check_mu_);
  return check_locked();
}

void PgKeyStore::refresh_for_miss(int64_t arrived_ns) {
  std::unique_lock lock(check_mu_);
  if (last_check_ns_ >= arrived_ns) return;  // a check that began after us is done
  // At most one read per kMissRefreshNs: wait for the slot, then read.
  const int64_t wait_ns = last_read_ns_ + kMissRefreshNs - mono_ns();
  if (wait_ns > 0) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(wait_ns, kMissRefreshNs)));
    lock.lock();
    if (last_check_ns_ >= arrived_ns) return;
  }
  check_locked();
}

void PgKeyStore::flush_last_used() {
  // A failing database loses nothing: the batch goes back for the next
  // call (KeySnapshot::flush_used).
  keys_.flush_used([&](const KeySnapshot::UsedBatch& batch) {
    std::vector<PgParam> ids;
    std::vector<int64_t> times;
    for (const auto& [id, t] : batch) {
      ids.emplace_back(id);
      times.push_back(t);
    }
    manage([&](PgConn& c) {
      c.exec("UPDATE mlgate_api_keys k SET last_used_at = greatest(coalesce(k.last_used_at, v.t), v.t) "
             "FROM unnest($1::text[], $2::bigint[]) AS v(id, t) WHERE k.id = v.id",
             {pg_array(ids), pg_array(times)});
    });
  });
}

size_t PgKeyStore::size() const { return keys_.size(); }

std::vector<std::string> PgKeyStore::active_outside(const std::map<std::string, std::string>& tiers,
                                                    int64_t now_ms) const {
  return keys_.active_outside(tiers, now_ms);
}

}  // namespace mlgate
