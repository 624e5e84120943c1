// sqlite_key_store.hpp: the KeyStore (key_store.hpp) on the SQLite data
// file. Management runs on a connection of its own; serving is the
// KeyCache (sqlite_key_cache.hpp), which a store made with serve = false
// (the admin CLI) does not have.
//
// Beyond the interface's contract: after each committed change, the
// management functions bump the key-change signal beside the file
// (key_signal.hpp), so a running server sees the change on its next miss
// with one memory load.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db.hpp"
#include "key_store.hpp"
#include "sqlite_key_cache.hpp"

namespace mlgate {

// The key table's rows, as the management functions and the cache read them.
extern const char* const kSelectKeys;  // columns as read_key_record() takes them; 10 is the hash
KeyRecord read_key_record(const Stmt& st);

// The management operations on any connection to the file (throw DbError).
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

struct KeyStoreOptions {
  std::string path;            // the SQLite file
  bool serve = true;           // false: management only (no cache, no signal file made)
  bool change_signal = true;   // serve: open (creating) the key-change signal
};

class SqliteKeyStore final : public KeyStore {
 public:
  // Throws DbError when the file cannot be opened (serve: read).
  explicit SqliteKeyStore(KeyStoreOptions opt);

  NewKey create(const KeyCreateOptions& opt, int64_t now_ms) override;
  std::vector<KeyRecord> list() override;
  std::optional<KeyRecord> find(std::string_view id) override;
  bool revoke(std::string_view id, int64_t now_ms) override;
  std::optional<NewKey> rotate(std::string_view id, int64_t grace_ms, int64_t now_ms) override;
  void record_server_tiers(const std::vector<std::string>& names, int64_t now_ms) override;
  std::vector<std::string> server_tiers() override;

  // Serving: a store made with serve = false throws std::logic_error.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented, int64_t now_ms) override;
  bool refresh() override;
  void flush_last_used() override;
  size_t size() const override;
  std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                          int64_t now_ms) const override;

  // The cache, for tests and benchmarks of its counters (serve only).
  KeyCache& cache() const;

 private:
  // Runs fn on the management connection (opened on first use), turning a
  // storage failure into StorageUnavailable.
  template <class F>
  auto manage(F&& fn);

  KeyStoreOptions opt_;
  std::mutex db_mu_;  // guards db_
  std::optional<Db> db_;
  std::unique_ptr<KeyCache> cache_;
};

}  // namespace mlgate
