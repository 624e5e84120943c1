// rate_limiter.hpp: GCRA rate limits over a bounded, sharded client table.
//
// What the caller may rely on
// - Policies, decisions and the RateLimit headers: gcra.hpp (the arithmetic
//   every limiter backend shares). This file is the embedded backend's table.
// - Memory. The table's capacity is fixed at construction (default 100,000
//   clients) and allocated, zeroed and touched then: 16 bytes a client
//   (a 64-bit keyed hash of the client and policy, and a 64-bit TAT), plus
//   a few kilobytes for the shards. Nothing a client sends can grow it.
// - Eviction. A client lives in one of four 8-slot buckets chosen by its
//   hash within one shard, two in each half (see Cores below). When all are
//   full, the new client takes a slot whose entry has fully refilled
//   (TAT <= now); failing that, room made by moving entries to another of
//   their buckets (one cuckoo step; forced evictions begin when the table
//   is about 94% full); failing that, the slot of the entry that refills
//   soonest (smallest TAT) among the 32, and forced_evictions() counts it.
//   So an entry is only ever forgotten when it carries no information, or
//   when it is the least-limited of the 32 entries the newcomer competes
//   with: a client whose TAT is later than every other entry of its four
//   buckets survives any number of new clients. "Oldest" means smallest TAT, not least
//   recently seen: that entry is the closest to carrying no information.
// - Keys. Hashes are SipHash-1-3 keyed with a 128-bit seed drawn from the OS
//   at construction, so an address-spraying client cannot aim at a bucket.
//   The seed is part of the snapshot: build the limiter of a restarted
//   process with LimiterOptions::seed = snapshot.seed, then restore().
//   (So the stored snapshot is as private as the database that holds it:
//   with the seed, an attacker could aim at buckets again.)
// - Threads. decide(), peek(), snapshot(), restore() and the counters may
//   be called concurrently from any threads. A decision for a client already
//   in the table takes no lock (atomic loads and one compare-and-swap); a
//   new client takes its shard's mutex (one of 64) briefly.
// - Cores. A shard's buckets are split in two halves, one for even and one
//   for odd CPUs, and a client has two buckets in each. A new client is
//   placed in the half of the CPU that first decides for it, when one of
//   its two buckets there has room, and an allowed
//   decision that finds its client in the other half moves it over now and
//   then (one time in 16, never waiting for the mutex). So two cores serving
//   different clients mostly write different cache lines. This changes where
//   an entry lives, never a decision.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limiter.hpp"

namespace mlgate {

struct HashSeed {
  uint64_t k0 = 0, k1 = 0;
  friend bool operator==(const HashSeed&, const HashSeed&) = default;
};
HashSeed random_seed();  // from getrandom(); throws std::system_error if unavailable

struct LimiterOptions {
  size_t capacity = 100'000;       // clients; rounded up to whole buckets per shard
  size_t shards = 64;              // independent locks; clamped to [1, 256]
  std::optional<HashSeed> seed;    // empty: random_seed()
};

// A snapshot holds wall-clock TATs so that it means the same thing to a
// process whose monotonic clock started elsewhere.
struct SnapshotEntry {
  uint64_t key = 0;          // keyed hash of (policy name, client)
  int64_t tat_unix_ns = 0;   // theoretical arrival time, Unix ns
};
struct LimiterSnapshot {
  HashSeed seed;
  std::vector<SnapshotEntry> entries;
};
// A self-describing little-endian byte string ("MLGRL1", seed, count,
// entries); decode returns nullopt for anything malformed or truncated.
std::string encode_snapshot(const LimiterSnapshot& snap);
std::optional<LimiterSnapshot> decode_snapshot(std::string_view bytes);

class alignas(64) RateLimiter {
 public:
  // Throws std::invalid_argument for an invalid policy or a duplicate name.
  explicit RateLimiter(std::vector<RatePolicy> policies, LimiterOptions options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  std::optional<PolicyId> find_policy(std::string_view name) const;
  const RatePolicy& policy(PolicyId id) const { return policies_[id].policy; }

  // Decide and record one request of `client` (an address key, a key id, ...)
  // under policy `id` at monotonic time `now_ns`.
  Decision decide(PolicyId id, std::string_view client, int64_t now_ns);
  // The decision decide() would return now, recording nothing (e.g. "is this
  // address's failed-key budget spent?" before checking a key).
  Decision peek(PolicyId id, std::string_view client, int64_t now_ns) const;

  // Entries that have not refilled at now_mono_ns, TATs as wall-clock time.
  LimiterSnapshot snapshot(int64_t now_mono_ns, int64_t now_wall_ns) const;
  struct RestoreResult {
    bool seed_matches = false;   // false: nothing restored (wrong seed)
    size_t restored = 0;
    size_t dropped_refilled = 0; // had fully refilled by now: nothing to keep
  };
  // Loads a snapshot taken by snapshot(), in this or an earlier process.
  // Entries whose TAT has passed are dropped; a TAT further ahead than the
  // longest policy's burst span (a clock step, a corrupt file) is clamped
  // to it so that no client can be locked out for longer than a policy says.
  RestoreResult restore(const LimiterSnapshot& snap, int64_t now_mono_ns, int64_t now_wall_ns);

  HashSeed seed() const { return seed_; }
  size_t capacity() const { return capacity_; }
  size_t entries() const;
  uint64_t forced_evictions() const;
  LimiterStats stats() const;

  static constexpr size_t kWays = 8;  // slots a bucket
  static constexpr size_t kBytesPerEntry = 16;

 private:
  struct Bucket;
  struct Shard;
  struct CounterLine;
  struct PolicyState {
    RatePolicy policy;
    HashSeed key;  // SipHash key for this policy's clients, derived from seed_
  };
  struct Slot {
    Bucket* bucket;
    size_t way;
  };
  // A client's candidate buckets, in the order a decision looks at them:
  // two in the caller's CPU's half of the shard, then two in the other.
  static constexpr size_t kChoices = 4;
  struct Cands {
    Bucket* b[kChoices];
    size_t n = 0;    // distinct buckets
    size_t own = 0;  // b[0..own) lie in the caller's CPU's half
  };

  uint64_t key_hash(PolicyId id, std::string_view client) const;
  Shard& shard_for(uint64_t h) const;
  // Shard i owns buckets [i*buckets_per_shard_, (i+1)*buckets_per_shard_).
  Bucket* first_bucket(size_t shard) const;
  Cands buckets_for(const Shard& s, uint64_t h, unsigned cpu) const;
  std::optional<Slot> find(const Cands& c, uint64_t h) const;
  Decision run(PolicyId id, std::string_view client, int64_t now_ns, bool record, unsigned cpu);
  std::optional<Decision> try_fast(const RatePolicy& p, const Cands& c, uint64_t h, int64_t now_ns,
                                   bool record, bool& absent, Bucket*& found_in) const;
  void maybe_rehome(Shard& s, const Cands& c, Bucket* other, uint64_t h);
  static constexpr unsigned kRehomeEvery = 16;
  Slot claim_slot(Shard& s, const Cands& c, int64_t now_ns);
  void install(Slot w, uint64_t h, int64_t tat);
  std::optional<Slot> relocate(Shard& s, const Cands& c);
  std::optional<Slot> make_room(Shard& s, Bucket* b, int depth);
  static constexpr int kRelocateDepth = 1;
  void count_decision(PolicyId id, bool allowed, unsigned cpu);
  static void check_layout();

  std::vector<PolicyState> policies_;
  HashSeed seed_;
  int64_t max_burst_span_ns_ = 0;
  size_t capacity_ = 0;
  size_t buckets_per_shard_ = 0;
  std::unique_ptr<Bucket[]> buckets_;
  std::unique_ptr<Shard[]> shards_;
  size_t shard_count_ = 0;
  std::unique_ptr<CounterLine[]> counters_;  // [stripe][policy*2 + refused]
  size_t counter_lines_ = 0;                 // cache lines a stripe
};

namespace detail {
// SipHash-c-d (Aumasson and Bernstein). The limiter uses <1,3>; <2,4> is
// instantiated so tests can check the core against the paper's vectors.
template <int C, int D>
uint64_t siphash(const HashSeed& key, std::string_view data);
}  // namespace detail

}  // namespace mlgate
