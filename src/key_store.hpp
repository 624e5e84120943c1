// key_store.hpp: API key records, their management, and the server's
// in-memory view of them.
//
// Contract:
// - Management functions (create/list/show/revoke/rotate) run against any
//   connection to the data file; the CLI uses them while a server runs.
// - KeyCache::authenticate() answers from an immutable in-memory snapshot
//   that refresh() replaces when the key table changed (a trigger-maintained
//   generation number, polled by the server every 250 ms). So a revoked or
//   rotated key takes effect within a second, and expiry is checked against
//   the clock on every call.
// - A well-formed key that is not in the snapshot is looked for again once
//   the snapshot holds every key committed before the call, so a key made
//   by the CLI works on its first request. The management functions below
//   bump a shared counter after each change (key_signal.hpp): while it is
//   what the last refresh saw, a miss costs one memory load and no lock.
//   Otherwise (or without the signal file) a check that began after the
//   call is needed: one PRAGMA data_version, and when something was
//   committed since the last check, a read of the key table's generation,
//   at most once per 10 ms for the whole cache; a miss that finds the last
//   read too recent waits (at most 10 ms) for the next one instead of
//   skipping it. A malformed or wrong-checksum key never touches storage.
// - A key's plain text is never stored or logged: only its SHA-256.
#pragma once

#include <atomic>
#include <climits>
#include <cstring>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api_key.hpp"
#include "db.hpp"
#include "key_signal.hpp"
#include "security.hpp"

namespace mlgate {

// What a key may do; each route names the one it needs (routes.cpp). Bit 2
// was "admin", which no route ever required: it is gone (key management is
// the CLI's, against the database file, and needs no key). A stored
// "admin" from an older key is ignored when the key is read.
enum Scope : uint32_t {
  kScopePredict = 1u << 0,
  kScopeRead = 1u << 1,
  kScopeMetrics = 1u << 3,
};
inline constexpr uint32_t kDefaultScopes = kScopePredict | kScopeRead;
inline constexpr uint32_t kAllScopes = kScopePredict | kScopeRead | kScopeMetrics;

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

// The tiers a server configured, recorded at each start (meta rows
// "server_tier:NAME", value the start time) so that the admin CLI, which
// cannot see the server's flags, knows which tiers that server limits by:
// `keys create --tier` accepts them, `keys list` marks the others.
void record_server_tiers(Db& db, const std::vector<std::string>& names, int64_t now_ms);
std::vector<std::string> server_tiers(Db& db);

struct KeyHashHasher {
  size_t operator()(const KeyHash& h) const noexcept {
    size_t v;
    static_assert(sizeof v <= sizeof h);
    std::memcpy(&v, h.data(), sizeof v);  // SHA-256 output is already uniform
    return v;
  }
};

class KeyCache : public KeySource {
 public:
  // Opens its own connection to `db_path`, used only by refresh() and
  // flush_last_used(), which the server calls from one maintenance thread,
  // and by misses. `change_signal`: open (creating) the key-change signal
  // beside the file; false only for tests of the path without it.
  explicit KeyCache(const std::string& db_path, bool change_signal = true);

  // The record of an active key, or nullptr for a missing, malformed,
  // wrong-checksum, unknown, revoked or expired one. Every call hashes the
  // presented value; a malformed or wrong-checksum one is refused with no
  // lookup; unknown, revoked and expired ones do the same work (see the
  // timing note in key_store.cpp). Thread-safe.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented,
                                                int64_t now_ms) override;

  // Reloads the snapshot if the key table changed. Thread-safe; a caller
  // that finds another refresh under way returns at once (the maintenance
  // thread's poll; a miss waits instead, see above).
  bool refresh();
  // Writes the batched last_used_at times (one transaction; a time never
  // moves backwards). On failure the batch is kept for the next call and the
  // DbError is rethrown. Maintenance thread only.
  void flush_last_used();

  // For tests: how many times the snapshot was consulted, and how many
  // presented values were hashed (every call to authenticate() hashes one).
  // "ID (TIER)" of each key active at now_ms whose tier is not in `tiers`
  // (the server limits those as free; it says so at start-up).
  std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                          int64_t now_ms) const;

  uint64_t lookups() const { return lookups_.load(std::memory_order_relaxed); }
  uint64_t hashes() const { return hashes_.load(std::memory_order_relaxed); }
  // How many times data_version and the key table's generation were read.
  uint64_t data_version_reads() const { return data_version_reads_.load(std::memory_order_relaxed); }
  uint64_t generation_reads() const { return generation_reads_.load(std::memory_order_relaxed); }
  size_t size() const;

 private:
  using Map = std::unordered_map<KeyHash, std::shared_ptr<const KeyRecord>,
                                 KeyHashHasher>;
  void reload();
  // The record for `h` if it is in the snapshot and active at now_ms.
  std::shared_ptr<const KeyRecord> find_active(const KeyHash& h, int64_t now_ms);
  // Returns once a check that began at or after `arrived_ns` has completed
  // (see the contract above). Throws DbError.
  void refresh_for_miss(int64_t arrived_ns);
  // Caller holds db_mu_. A check begun at `started_ns` (mono), which read
  // the signal `sig` and then data_version `dv`: reads the generation,
  // reloads on a change, and records what it saw.
  bool read_generation(int64_t dv, int64_t started_ns, uint64_t sig);
  uint64_t signal_value() const { return signal_ ? signal_->read() : 0; }
  int64_t data_version();  // caller holds db_mu_

  // Generation reads on behalf of misses, at most this often: a flood of
  // unknown keys while jobs commit costs at most 100 reads a second.
  static constexpr int64_t kMissRefreshNs = 10'000'000;
  std::mutex db_mu_;  // guards everything from db_ to last_read_ns_
  Db db_;
  Stmt data_version_stmt_;  // "PRAGMA data_version", prepared once
  int64_t data_version_ = -1;  // as read by the last check
  int64_t generation_ = -1;
  int64_t last_check_ns_ = INT64_MIN;  // when the last completed check began (mono)
  int64_t last_read_ns_ = INT64_MIN;   // when the generation was last read (mono)
  std::atomic<uint64_t> generation_reads_{0}, data_version_reads_{0};
  std::unique_ptr<KeySignal> signal_;  // null: no signal file, always check the database
  // The signal as read at the start of the last completed check: while the
  // signal still reads this, no CLI change came after that check.
  std::atomic<uint64_t> signal_seen_{UINT64_MAX};
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
