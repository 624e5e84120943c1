// pg_key_store.hpp: the KeyStore (key_store.hpp) on PostgreSQL, shared by
// every instance on the database and by the admin CLI.
//
// Beyond the interface's contract:
// - Serving answers from an immutable in-memory snapshot, as the SQLite
//   store does. Every key change bumps a generation number and notifies
//   "mlgate_keys" (a trigger, so a change made with psql counts too); the
//   listener thread reloads the snapshot on the notification, so a
//   revocation on one instance holds on every other within milliseconds.
//   The server's refresh() every 250 ms reads the generation as a safety
//   net (a notification lost while the listener reconnected).
// - A well-formed key missing from the snapshot is looked for again once a
//   generation read that began after the request completes, at most one
//   read per 10 ms for the whole process (a miss that comes sooner waits
//   for it): a key created on another instance works on its first request,
//   and a flood of unknown keys costs the database at most 100 reads a
//   second. Unknown, revoked and expired keys take that same path (see the
//   timing note in key_snapshot.cpp).
// - The database down: management calls throw StorageUnavailable; serving
//   goes on from the last snapshot (revocations made meanwhile cannot
//   arrive, and are applied when the database returns).
#pragma once

#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "key_snapshot.hpp"
#include "key_store.hpp"
#include "pg_conn.hpp"

namespace mlgate {

class PgListener;

struct PgKeyStoreOptions {
  PgOptions pg;
  bool serve = true;   // false: management only (the admin CLI)
  bool listen = true;  // serve: reload on the change notification
};

class PgKeyStore final : public KeyStore {
 public:
  // Connects and migrates the schema (PgSchemaTooNew, StorageUnavailable).
  explicit PgKeyStore(PgKeyStoreOptions opt);
  ~PgKeyStore() override;

  NewKey create(const KeyCreateOptions& opt, int64_t now_ms) override;
  std::vector<KeyRecord> list() override;
  std::optional<KeyRecord> find(std::string_view id) override;
  bool revoke(std::string_view id, int64_t now_ms) override;
  std::optional<NewKey> rotate(std::string_view id, int64_t grace_ms, int64_t now_ms) override;
  void record_server_tiers(const std::vector<std::string>& names, int64_t now_ms) override;
  std::vector<std::string> server_tiers() override;

  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented, int64_t now_ms) override;
  bool refresh() override;
  void flush_last_used() override;
  size_t size() const override;
  std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                          int64_t now_ms) const override;

 private:
  template <class F>
  auto manage(F&& fn);
  template <class F>
  auto manage_tx(F&& fn);
  // Reads the generation and reloads when it moved; true when it did.
  // Caller holds check_mu_.
  bool check_locked();
  void refresh_for_miss(int64_t arrived_ns);

  PgKeyStoreOptions opt_;
  mutable PgPool pool_;

  std::mutex check_mu_;  // guards generation_ .. last_read_ns_
  int64_t generation_ = -1;
  int64_t last_check_ns_ = INT64_MIN;  // when the last completed check began (mono)
  int64_t last_read_ns_ = INT64_MIN;

  KeySnapshot keys_;  // the snapshot, authenticate()'s path, the last-use batch

  std::unique_ptr<PgListener> listener_;  // last: stopped first
};

}  // namespace mlgate
