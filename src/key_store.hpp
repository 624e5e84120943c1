// key_store.hpp: API key records, their management, and the server's
// in-memory view of them.
//
// Contract:
// - Management functions (create/list/show/revoke/rotate) run against any
//   connection to the data file; the CLI uses them while a server runs.
// - KeyCache::authenticate() answers from an immutable in-memory snapshot
//   that refresh() replaces when the key table changed (a trigger-maintained
//   generation number, polled by the server every 250 ms). So a new, revoked
//   or rotated key takes effect within a second, and expiry is checked
//   against the clock on every request. The database is not read per
//   request: a refused well-formed key may trigger one refresh, at most once
//   per 10 ms for the whole cache (so a key created a moment ago works at
//   once); a malformed or wrong-checksum key never does.
// - A key's plain text is never stored or logged: only its SHA-256.
#pragma once

#include <atomic>
#include <cstring>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api_key.hpp"
#include "db.hpp"

namespace mlgate {

enum Scope : uint32_t {
  kScopePredict = 1u << 0,
  kScopeRead = 1u << 1,
  kScopeAdmin = 1u << 2,
  kScopeMetrics = 1u << 3,
};
inline constexpr uint32_t kDefaultScopes = kScopePredict | kScopeRead;

// "predict,read" -> bits; nullopt for an unknown or empty name.
std::optional<uint32_t> parse_scopes(std::string_view csv);
std::string format_scopes(uint32_t scopes);

struct KeyRecord {
  std::string id, name, owner, tier;
  uint32_t scopes = kDefaultScopes;
  int64_t created_at = 0;
  std::optional<int64_t> expires_at, revoked_at, last_used_at;
  std::optional<std::string> replaced_by;

  bool active_at(int64_t now_ms) const {
    return !revoked_at && (!expires_at || now_ms < *expires_at);
  }
};

struct KeyCreateOptions {
  std::string name;
  std::string owner;  // empty: the name
  std::string tier = "free";
  uint32_t scopes = kDefaultScopes;
  std::optional<int64_t> expires_in_ms;
};

struct NewKey {
  std::string key;  // shown once, never stored
  KeyRecord record;
};

NewKey create_key(Db& db, const KeyCreateOptions& opt, int64_t now_ms);
std::vector<KeyRecord> list_keys(Db& db);
std::optional<KeyRecord> find_key(Db& db, std::string_view id);
// False when no such key; revoking a revoked key keeps the first time.
bool revoke_key(Db& db, std::string_view id, int64_t now_ms);
// A new key with the old one's owner, tier, scopes and expiry; the old key
// stops working at now + grace (at once for a zero grace). nullopt when the
// old key does not exist or is revoked.
std::optional<NewKey> rotate_key(Db& db, std::string_view id, int64_t grace_ms,
                                 int64_t now_ms);

struct KeyHashHasher {
  size_t operator()(const KeyHash& h) const noexcept {
    size_t v;
    static_assert(sizeof v <= sizeof h);
    std::memcpy(&v, h.data(), sizeof v);  // SHA-256 output is already uniform
    return v;
  }
};

class KeyCache {
 public:
  // Opens its own connection to `db_path`, used only by refresh() and
  // flush_last_used(), which the server calls from one maintenance thread.
  explicit KeyCache(const std::string& db_path);

  // The record of an active key, or nullptr for a missing, malformed,
  // wrong-checksum, unknown, revoked or expired one. Every call hashes the
  // presented value; a malformed or wrong-checksum one is refused with no
  // lookup; unknown, revoked and expired ones do the same work (see the
  // timing note in key_store.cpp). Thread-safe.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented,
                                                int64_t now_ms);

  // Reloads the snapshot if the key table changed. Thread-safe; a caller
  // that finds another refresh under way returns at once.
  bool refresh();
  // Writes the batched last_used_at times (one transaction; a time never
  // moves backwards). On failure the batch is kept for the next call and the
  // DbError is rethrown. Maintenance thread only.
  void flush_last_used();

  // For tests: how many times the snapshot was consulted, and how many
  // presented values were hashed (every call to authenticate() hashes one).
  uint64_t lookups() const { return lookups_.load(std::memory_order_relaxed); }
  uint64_t hashes() const { return hashes_.load(std::memory_order_relaxed); }
  size_t size() const;

 private:
  using Map = std::unordered_map<KeyHash, std::shared_ptr<const KeyRecord>,
                                 KeyHashHasher>;
  void reload();
  // The record for `h` if it is in the snapshot and active at now_ms.
  std::shared_ptr<const KeyRecord> find_active(const KeyHash& h, int64_t now_ms);
  // refresh(), if no miss-refresh ran in the last kMissRefreshNs.
  void try_miss_refresh();

  // On a miss, look again at most this often: a key created a moment ago
  // works at once, and a flood of unknown keys costs at most 100 reads/s.
  static constexpr int64_t kMissRefreshNs = 10'000'000;
  std::mutex db_mu_;  // guards db_, data_version_, generation_
  Db db_;
  std::atomic<int64_t> last_miss_refresh_ns_{0};
  int64_t data_version_ = -1;
  int64_t generation_ = -1;
  // The current keys, replaced whole, never mutated. A plain mutex around a
  // shared_ptr copy (tens of ns) rather than std::atomic<std::shared_ptr>:
  // g++ 12's implementation unlocks a load with a relaxed store, which
  // ThreadSanitizer rightly reports as a race with the next store.
  std::shared_ptr<const Map> snapshot() const;
  mutable std::mutex snapshot_mu_;      // guards snapshot_
  std::shared_ptr<const Map> snapshot_;
  std::mutex used_mu_;                                // guards used_
  std::unordered_map<std::string, int64_t> used_;     // key id -> last use, not yet written
  std::atomic<uint64_t> lookups_{0}, hashes_{0};
};

}  // namespace mlgate
