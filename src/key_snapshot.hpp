// key_snapshot.hpp: the serving half that every key store shares, whatever
// holds its keys (SQLite: sqlite_key_cache.hpp; PostgreSQL: pg_key_store.hpp):
// - the keys as an immutable in-memory table, replaced by the store when its
//   key table changed, consulted without touching storage;
// - authenticate(): one path for every refusal of a well-formed key (the
//   timing note in key_snapshot.cpp says why that matters);
// - the last-use times of accepted keys, batched until the store writes them.
// The store supplies what differs: how it notices changes, and how it writes.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "key_store.hpp"

namespace mlgate {

class KeySnapshot {
 public:
  struct Entry {
    KeyHash hash;  // SHA-256 of the key
    std::shared_ptr<const KeyRecord> record;
  };
  // Sorted by hash, one allocation. Memory under key changes: the soak
  // (bench/soak.sh) creates and revokes a key every ~0.6 s while serving,
  // and with a hash map of fresh records per change the server grew
  // 17.6 -> 26.1 MiB in 40 s on a 6,422-key table (each change allocated
  // every record again, ~3 MiB, and malloc kept the freed copies). Now a
  // change allocates only the records that changed plus this table (48
  // bytes a key: above ~2,700 keys it is past malloc's mmap threshold,
  // which malloc_tuning.hpp keeps fixed at 128 KiB, so a replaced table
  // goes back to the system whole).
  using Table = std::vector<Entry>;

  // Builds the next table from the store's rows, sharing with the current
  // one every record that did not change.
  class Builder {
   public:
    explicit Builder(const KeySnapshot& from);
    // Adds the key whose SHA-256 is `hash`. A revoked key is left out: it is
    // refused as an unknown one is, on the same path (the timing note in
    // key_snapshot.cpp), and revoked records only accumulate. The record's
    // last_used_at is dropped: the snapshot never serves it (last uses go
    // through flush_used) and it would make every used key look changed.
    void add(const KeyHash& hash, KeyRecord record);
    // For tests: how many added records were taken from the current table.
    size_t shared() const { return shared_; }

   private:
    friend class KeySnapshot;
    std::shared_ptr<const Table> base_;
    Table next_;
    size_t shared_ = 0;
  };
  // key id -> time of its last accepted use (ms) not yet written.
  using UsedBatch = std::unordered_map<std::string, int64_t>;

  KeySnapshot();

  // The record of an active key, or nullptr for a missing, malformed,
  // wrong-checksum, unknown, revoked or expired one. A well-formed key that
  // the map lacks or holds inactive is looked up once more after
  // `refresh_for_miss(arrival)` (mono ns) has returned: the store returns
  // once the map holds every key committed before that moment, and decides
  // itself what a storage error means (it must not throw). Thread-safe.
  std::shared_ptr<const KeyRecord> authenticate(std::string_view presented, int64_t now_ms,
                                                const std::function<void(int64_t)>& refresh_for_miss);

  // Puts the built table in place of the current one (the old one is freed
  // outside the lock). Two rows with one hash: the last added wins.
  void replace(Builder&& next);
  size_t size() const;
  // "ID (TIER)" of each key active at now_ms whose tier is not in `tiers`,
  // sorted (the server limits those as free and says so at start-up).
  std::vector<std::string> active_outside(const std::map<std::string, std::string>& tiers,
                                          int64_t now_ms) const;

  // Hands the last-use times recorded so far to `write`; if it throws, they
  // are put back (a later use recorded meanwhile wins) for the next call,
  // and the exception goes on. Nothing is lost to a failing database.
  void flush_used(const std::function<void(const UsedBatch&)>& write);

  // For tests: how many times the map was consulted, and how many presented
  // values were hashed (every call to authenticate() hashes one).
  uint64_t lookups() const { return lookups_.load(std::memory_order_relaxed); }
  uint64_t hashes() const { return hashes_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<const Table> current() const;
  static const Entry* find(const Table& t, const KeyHash& h);
  std::shared_ptr<const KeyRecord> find_active(const KeyHash& h, int64_t now_ms);

  // A plain mutex around a shared_ptr copy (tens of ns) rather than
  // std::atomic<std::shared_ptr>: g++ 12's implementation unlocks a load
  // with a relaxed store, which ThreadSanitizer rightly reports as a race
  // with the next store.
  mutable std::mutex map_mu_;  // guards map_
  std::shared_ptr<const Table> map_;
  std::mutex used_mu_;  // guards used_
  UsedBatch used_;
  std::atomic<uint64_t> lookups_{0}, hashes_{0};
};

}  // namespace mlgate
