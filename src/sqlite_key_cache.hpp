// sqlite_key_cache.hpp: the server's in-memory view of the keys in an
// SQLite file, and how it notices changes (part of the SQLite key store,
// sqlite_key_store.hpp).
//
// Contract:
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
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "db.hpp"
#include "key_signal.hpp"
#include "key_snapshot.hpp"
#include "key_store.hpp"

namespace mlgate {

class KeyCache {
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
  // timing note in key_snapshot.cpp). Thread-safe.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented,
                                                int64_t now_ms);

  // Reloads the snapshot if the key table changed. Thread-safe; a caller
  // that finds another refresh under way returns at once (the maintenance
  // thread's poll; a miss waits instead, see above).
  bool refresh();
  // Writes the batched last_used_at times (one transaction; a time never
  // moves backwards). On failure the batch is kept for the next call and the
  // DbError is rethrown. Maintenance thread only.
  void flush_last_used();

  // "ID (TIER)" of each key active at now_ms whose tier is not in `tiers`
  // (the server limits those as free; it says so at start-up).
  std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                          int64_t now_ms) const {
    return keys_.active_outside(tiers, now_ms);
  }

  // For tests: how many times the snapshot was consulted, and how many
  // presented values were hashed (every call to authenticate() hashes one).
  uint64_t lookups() const { return keys_.lookups(); }
  uint64_t hashes() const { return keys_.hashes(); }
  // How many times data_version and the key table's generation were read.
  uint64_t data_version_reads() const { return data_version_reads_.load(std::memory_order_relaxed); }
  uint64_t generation_reads() const { return generation_reads_.load(std::memory_order_relaxed); }
  size_t size() const { return keys_.size(); }

 private:
  void reload();
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
  KeySnapshot keys_;  // the snapshot, authenticate()'s path, the last-use batch
};

}  // namespace mlgate
