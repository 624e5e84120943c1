// key_store.hpp: API key records and the store that keeps them, as an
// interface. The SQLite file is one implementation (sqlite_key_store.hpp);
// a shared database will be another, and both pass the same contract suite
// (tests/contract/key_store_contract).
//
// Contract, for every implementation:
// - Management (create, list, find, revoke, rotate) may run in a process
//   other than the server's (the admin CLI) while the server runs.
// - authenticate() answers from memory. A change made through any handle on
//   the same store (revoke, rotate, create) is seen after the server's next
//   refresh() (the server calls it every 250 ms, so within a second), and a
//   key created elsewhere works on its first request. Expiry is checked
//   against the clock on every call.
// - A key's plain text is never stored or logged: only its SHA-256.
// - Errors: the job store's style (job_store.hpp): "no such key" is a value
//   (false, an empty optional, nullptr); storage that cannot answer is
//   StorageUnavailable.
// - Thread-safe: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api_key.hpp"
#include "security.hpp"  // KeySource: what the gate asks of a key store

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
  bool operator==(const KeyRecord&) const = default;
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

// Scopes as stored: names this version does not know (the retired
// "admin") grant nothing and take nothing away from the others.
uint32_t stored_scopes(std::string_view csv);

// What every store does the same way (the stores only insert and update):
// a new key and its record as `opt` asks;
NewKey make_new_key(const KeyCreateOptions& opt, int64_t now_ms);
// the key that replaces `old` in a rotation (owner, tier, scopes, expiry kept);
NewKey make_successor_key(const KeyRecord& old, int64_t now_ms);
// when the rotated key ends: at the grace deadline, or earlier if it already would;
int64_t rotated_key_end(const KeyRecord& old, int64_t grace_ms, int64_t now_ms);

class KeyStore : public KeySource {
 public:
  virtual ~KeyStore() = default;

  // ---- management (the CLI; the server records its tiers)
  virtual NewKey create(const KeyCreateOptions& opt, int64_t now_ms) = 0;
  // Every key, oldest first.
  virtual std::vector<KeyRecord> list() = 0;
  virtual std::optional<KeyRecord> find(std::string_view id) = 0;
  // False when no such key; revoking a revoked key keeps the first time.
  virtual bool revoke(std::string_view id, int64_t now_ms) = 0;
  // A new key with the old one's owner, tier, scopes and expiry; the old key
  // stops working at now + grace (at once for a zero grace), or at its own
  // earlier expiry. nullopt when the old key does not exist or is not active.
  virtual std::optional<NewKey> rotate(std::string_view id, int64_t grace_ms, int64_t now_ms) = 0;
  // The tiers a server configured, recorded at each start so that the admin
  // CLI, which cannot see the server's flags, knows which tiers that server
  // limits by: `keys create --tier` accepts them, `keys list` marks the others.
  virtual void record_server_tiers(const std::vector<std::string>& names, int64_t now_ms) = 0;
  virtual std::vector<std::string> server_tiers() = 0;

  // ---- serving (the server)
  // The record of an active key, or nullptr for a missing, malformed,
  // wrong-checksum, unknown, revoked or expired one. A malformed or
  // wrong-checksum value is refused without a lookup.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented,
                                                int64_t now_ms) override = 0;
  // The change watch: reloads the keys if any changed since the last look;
  // true when the view changed.
  virtual bool refresh() = 0;
  // Writes the batched last-use times of authenticated keys (a time never
  // moves backwards); on failure they are kept for the next call.
  virtual void flush_last_used() = 0;
  // Keys in memory.
  virtual size_t size() const = 0;
  // "ID (TIER)" of each key active at now_ms whose tier is not in `tiers`
  // (the server limits those as free; it says so at start-up).
  virtual std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                                  int64_t now_ms) const = 0;
};

}  // namespace mlgate
