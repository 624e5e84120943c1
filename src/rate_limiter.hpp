// rate_limiter.hpp: GCRA rate limits over a bounded, sharded client table.
//
// What the caller may rely on
// - Policies. "N/s", "N/min" or "N/h", optionally ",burst=B" (parse_rate).
//   The emission interval is T = period/N, rounded up to a whole nanosecond
//   (exact whenever N divides the period in nanoseconds, e.g. 5/min, 20/min,
//   1000/s; otherwise the limit is stricter by less than one part in T_ns).
//   B is how many requests may arrive at once from a client whose budget is
//   full. Decision: the default burst is B = N, so "5/min" means what its
//   users expect from the original service: five requests at once are
//   allowed, the sixth is refused, and after that one more request every
//   12 s (T). The long-run rate is exactly N per period; like every token
//   bucket, a client that starts with a full budget can make up to
//   B + N - 1 requests in its first period. `burst=1` gives strict spacing.
// - Decisions. GCRA, one theoretical arrival time (TAT) per client, integer
//   nanoseconds on a clock the caller passes in (`now_ns`, monotonic), so
//   tests never sleep and there is no floating-point drift. A request at
//   `now` is allowed iff now >= TAT - (B-1)*T; an allowed request moves TAT
//   to max(TAT, now) + T; a refused one changes nothing.
// - Headers (draft-ietf-httpapi-ratelimit-headers-10, structured fields):
//     RateLimit-Policy: "free";q=5;w=60       (q = N, w = period in seconds)
//     RateLimit: "free";r=3;t=12
//   r is the number of further requests that would be allowed right now.
//   t is the number of seconds, rounded up, until r next grows by one: the
//   window within which the client can make no more than r requests. For a
//   refused request r = 0 and t equals Retry-After (both are the time until
//   the next request is allowed, rounded up, never 0), so the two fields
//   name the same instant as the draft asks. t is therefore at most
//   ceil(T) seconds; the time until the budget is completely full again is
//   in Decision::full_ns for anyone who wants it.
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

namespace mlgate {

inline constexpr int64_t kNsPerSecond = 1'000'000'000;

struct RatePolicy {
  std::string name;       // identifier in headers and metrics: [A-Za-z0-9_.-]{1,32}
  int64_t count = 0;      // N requests ...
  int64_t period_ns = 0;  // ... per period: 1 s, 60 s or 3600 s
  int64_t burst = 0;      // B: requests that may arrive at once, >= 1

  // T = period/N rounded up to a whole nanosecond.
  int64_t emission_ns() const { return (period_ns + count - 1) / count; }
  // B*T: how far ahead of now a client's TAT may run and still be allowed.
  int64_t burst_span_ns() const { return burst * emission_ns(); }
};

// parse_rate's result: `policy` on success, else a one-line `error` that
// names the problem ("rate \"5/week\": unit must be s, min or h").
struct RateParse {
  std::optional<RatePolicy> policy;
  std::string error;
  explicit operator bool() const { return policy.has_value(); }
};

// Accepts exactly "N/s", "N/min", "N/h", each optionally followed by
// ",burst=B" (no spaces). 1 <= N, 1 <= B, at most 1,000,000 requests a
// second, and B*T at most 30 days.
RateParse parse_rate(std::string_view text, std::string_view name);
bool valid_policy_name(std::string_view name);

struct Decision {
  bool allowed = false;
  int64_t remaining = 0;      // r: requests that would still be allowed now
  int64_t reset_s = 0;        // t: seconds (rounded up) until r grows by one
  int64_t retry_after_s = 0;  // refused: seconds (rounded up, >= 1) until a
                              // request is allowed, == reset_s; allowed: 0
  int64_t wait_ns = 0;        // refused: exact ns until allowed; allowed: 0
  int64_t full_ns = 0;        // ns until the budget is full (r == B) again
};

// `"free";q=5;w=60`: one item of RateLimit-Policy. Join several with ", ".
std::string ratelimit_policy_item(const RatePolicy& policy);
// `"free";r=3;t=12`: one item of RateLimit. Join several with ", ".
std::string ratelimit_item(const RatePolicy& policy, const Decision& d);
// "Rate limit exceeded. Try again in 12 seconds."
std::string rate_limited_message(int64_t retry_after_s);

struct HashSeed {
  uint64_t k0 = 0, k1 = 0;
  friend bool operator==(const HashSeed&, const HashSeed&) = default;
};
HashSeed random_seed();  // from getrandom(); throws std::system_error if unavailable

using PolicyId = uint32_t;  // index into the limiter's policy list

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

struct PolicyCounters {
  std::string name;
  uint64_t allowed = 0;
  uint64_t refused = 0;
};
struct LimiterStats {
  uint64_t capacity = 0;
  uint64_t entries = 0;
  uint64_t forced_evictions = 0;  // a not-yet-refilled entry was forgotten
  uint64_t refilled_reused = 0;   // a refilled entry's slot was reused (harmless)
  uint64_t rehomed = 0;           // entries moved to the half of the CPU serving them
  std::vector<PolicyCounters> policies;  // in PolicyId order
};

class alignas(64) RateLimiter {
 public:
  // Throws std::invalid_argument for an invalid policy or a duplicate name.
  explicit RateLimiter(std::vector<RatePolicy> policies, LimiterOptions options = {});
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  std::optional<PolicyId> find_policy(std::string_view name) const;
  const RatePolicy& policy(PolicyId id) const { return policies_[id].policy; }
  size_t policy_count() const { return policies_.size(); }

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
// ceil(ns / 1e9) for ns >= 0.
inline int64_t ceil_seconds(int64_t ns) { return (ns + kNsPerSecond - 1) / kNsPerSecond; }
}  // namespace detail

}  // namespace mlgate
