// rate_limiter.cpp: see rate_limiter.hpp for the contract.
#include "rate_limiter.hpp"

#include <sched.h>
#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <system_error>

namespace mlgate {

// ---------------------------------------------------------------- table
//
// Concurrency. A decision for a client already in the table takes no lock
// and writes nothing shared but the client's own TAT: it reads the slot's
// key, its TAT, the key again, and (if allowed) compare-and-swaps the TAT.
// Structural changes (a new client, an eviction, a cuckoo move, restore)
// take the shard's mutex. Before a structural change rewrites an occupied
// slot it swaps the slot's TAT to kBusy, so that a lock-free update racing
// with it fails its compare-and-swap and retries (finding the key in its new
// slot, or falling back to the mutex). Why this matters: with a mutex on
// every decision, two threads were slower together than one, because every
// lock moved the mutex's cache line between the cores.

namespace {
constexpr int64_t kBusy = std::numeric_limits<int64_t>::min();
}  // namespace

// One bucket: two cache lines. key 0 marks an empty slot (hashes are never 0).
struct alignas(64) RateLimiter::Bucket {
  std::atomic<uint64_t> key[kWays];
  std::atomic<int64_t> tat[kWays];
};

void RateLimiter::check_layout() {
  static_assert(sizeof(Bucket) == kWays * kBytesPerEntry, "16 bytes a client, no padding");
  static_assert(std::atomic<int64_t>::is_always_lock_free);
}
static_assert(sizeof(uint64_t) + sizeof(int64_t) == RateLimiter::kBytesPerEntry);

// 128 bytes, not 64: the L2 prefetcher fetches lines in aligned pairs, so
// two CPUs writing neighbouring 64-byte lines still slow each other.
struct alignas(128) RateLimiter::CounterLine {
  std::atomic<uint64_t> v[8];
};

namespace {
// Written only under the owning mutex (a plain load+store, no locked
// instruction), read lock-free by stats().
inline void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// The CPU the caller runs on, read once a decision. It picks the caller's
// counter stripe and its half of the table (see buckets_for()); a thread
// that migrates meanwhile costs one shared line, never a wrong answer.
// sched_getcpu() reads the kernel's rseq area in glibc >= 2.35 (~1 ns).
unsigned current_cpu() {
  const int cpu = sched_getcpu();
  return cpu < 0 ? 0 : static_cast<unsigned>(cpu);
}

// Decision counters are per CPU, so that two threads running at the same
// time never write the same line on every decision. They used to be striped
// by thread creation order modulo 16, which let two busy threads share a
// stripe: measured, two threads then made fewer allowed decisions together
// than one alone (bench/NOTES.md). The add is atomic, so a thread that
// migrates only costs a shared line once.
constexpr size_t kStripes = 16;
}  // namespace

// No pointer to the shard's buckets in here: buckets_for() computes it from
// the shard's index. Measured on 2 cores (bench/NOTES.md): loading it from
// this array on every decision made two threads sharing a table about 30 ns
// a decision slower each, even with nothing written here.
struct alignas(64) RateLimiter::Shard {
  // Guards the set of keys in this shard's buckets: which slot holds which
  // client (insert, evict, relocate, rehome, restore, snapshot). TATs of
  // existing entries are updated without it (see above). The counters below
  // are written only while it is held.
  mutable std::mutex mu;
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> forced_evictions{0};
  std::atomic<uint64_t> refilled_reused{0};
  std::atomic<uint64_t> rehomed{0};
};

RateLimiter::RateLimiter(std::vector<RatePolicy> policies, LimiterOptions options) {
  if (policies.empty()) throw std::invalid_argument("rate limiter: no policies");
  if (policies.size() > 1'000'000) throw std::invalid_argument("rate limiter: too many policies");
  seed_ = options.seed ? *options.seed : random_seed();
  for (auto& p : policies) {
    if (!valid_policy_name(p.name)) throw std::invalid_argument("rate limiter: bad policy name");
    if (p.count < 1 || p.period_ns < 1 || p.burst < 1 || p.burst > kMaxBurstSpanNs / p.emission_ns())
      throw std::invalid_argument("rate limiter: invalid policy " + p.name);
    if (find_policy(p.name)) throw std::invalid_argument("rate limiter: duplicate policy " + p.name);
    // Per-policy SipHash key: one process seed, independent hashes per
    // policy, and stable across restarts (it depends on the name, not the
    // policy's position in the list).
    const std::string tag = "mlgate.ratelimit.policy:" + p.name;
    const HashSeed key{detail::siphash<1, 3>(seed_, tag + "#0"), detail::siphash<1, 3>(seed_, tag + "#1")};
    max_burst_span_ns_ = std::max(max_burst_span_ns_, p.burst_span_ns());
    policies_.push_back({std::move(p), key});
  }

  shard_count_ = std::clamp<size_t>(options.shards, 1, 256);
  const size_t per_shard = (std::max<size_t>(options.capacity, 1) + shard_count_ - 1) / shard_count_;
  buckets_per_shard_ = (per_shard + kWays - 1) / kWays;
  capacity_ = buckets_per_shard_ * kWays * shard_count_;
  const size_t nbuckets = buckets_per_shard_ * shard_count_;
  // value-initialised: every key 0 (empty), and every page touched now, so
  // the resident size does not grow as clients arrive.
  buckets_.reset(new Bucket[nbuckets]());
  shards_.reset(new Shard[shard_count_]);
  counter_lines_ = (policies_.size() * 2 + 7) / 8;
  counters_.reset(new CounterLine[kStripes * counter_lines_]());
}

RateLimiter::~RateLimiter() = default;

std::optional<PolicyId> RateLimiter::find_policy(std::string_view name) const {
  for (size_t i = 0; i < policies_.size(); ++i)
    if (policies_[i].policy.name == name) return static_cast<PolicyId>(i);
  return std::nullopt;
}

uint64_t RateLimiter::key_hash(PolicyId id, std::string_view client) const {
  const uint64_t h = detail::siphash<1, 3>(policies_[id].key, client);
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

// Multiply-shift maps 32 uniform bits onto [0, n) without a division.
static inline size_t reduce(uint64_t bits32, size_t n) {
  return static_cast<size_t>((bits32 * n) >> 32);
}

RateLimiter::Shard& RateLimiter::shard_for(uint64_t h) const {
  return shards_[reduce(h & 0xffffffffu, shard_count_)];
}

RateLimiter::Bucket* RateLimiter::first_bucket(size_t shard) const {
  return buckets_.get() + shard * buckets_per_shard_;
}

RateLimiter::Cands RateLimiter::buckets_for(const Shard& s, uint64_t h, unsigned cpu) const {
  // A shard's buckets are split in two halves, one for even CPUs and one
  // for odd ones, and a client has two buckets in each. run() looks first in
  // the half of the CPU it runs on, and claim_slot() puts a new client
  // there when one of its two buckets there has room. An allowed decision
  // writes its client's TAT, and a TAT line holds eight clients' TATs; with
  // clients kept in the half of the core that serves them, a core mostly
  // writes lines the other core does not, instead of pulling about every
  // second line across. Two buckets a half, not one: at the default load
  // (65% in the benchmark) one bucket a half overflowed for ~3% of clients
  // into the other core's half, and each such entry makes its whole TAT
  // line travel; measured, two threads reached 1.37x one thread with one
  // bucket a half (bench/NOTES.md, "two-thread scaling").
  //
  // The hash is a keyed PRF output, so its bits are independent; shard_for()
  // uses the low 32 bits, the first even bucket the high 32, and the other
  // three come from two remixes of the whole hash (h2, h3).
  const uint64_t h2 = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
  uint64_t h3 = h ^ 0x9e3779b97f4a7c15ULL;
  h3 = (h3 ^ (h3 >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h3 = (h3 ^ (h3 >> 27)) * 0x94d049bb133111ebULL;
  h3 ^= h3 >> 31;
  Bucket* const first = first_bucket(static_cast<size_t>(&s - shards_.get()));
  Cands c;
  const size_t half = buckets_per_shard_ / 2;
  if (half == 0) {  // a one-bucket shard (tiny tables in tests)
    c.b[0] = first;
    c.n = c.own = 1;
    return c;
  }
  const size_t rest = buckets_per_shard_ - half;
  Bucket* const even[2] = {first + reduce(h >> 32, half), first + reduce(h3 >> 32, half)};
  Bucket* const odd[2] = {first + half + reduce(h2 >> 32, rest),
                          first + half + reduce(h3 & 0xffffffffu, rest)};
  auto add = [&c](Bucket* const (&pair)[2]) {
    c.b[c.n++] = pair[0];
    if (pair[1] != pair[0]) c.b[c.n++] = pair[1];
  };
  add(cpu % 2 == 0 ? even : odd);
  c.own = c.n;
  add(cpu % 2 == 0 ? odd : even);
  return c;
}

// A bucket's eight keys are compared without a branch per key, so the one
// branch a bucket ("found here?") is predictable. With a branch per key the
// CPU mispredicted inside the first bucket and ran ahead into the client's
// buckets in the other core's half; those speculative reads, and the TAT
// lines the prefetcher fetches with them, cost the other core a transfer on
// its next write (measured with bench/limiter_scaling, every decision
// allowed: two threads 84-91 -> 53-55 ns a decision each).
std::optional<RateLimiter::Slot> RateLimiter::find(const Cands& c, uint64_t h) const {
  for (size_t i = 0; i < c.n; ++i) {
    unsigned match = 0;
    for (size_t w = 0; w < kWays; ++w)
      match |= unsigned{c.b[i]->key[w].load(std::memory_order_acquire) == h} << w;
    if (match != 0) return Slot{c.b[i], static_cast<size_t>(std::countr_zero(match))};
  }
  return std::nullopt;
}

// The TAT of slot `w`, taken over for a structural change (caller holds the
// shard mutex): racing lock-free updates either land before (and are in the
// returned value) or fail.
static int64_t take(std::atomic<int64_t>& tat) {
  int64_t cur = tat.load();
  while (!tat.compare_exchange_weak(cur, kBusy)) {
  }
  return cur;
}

// Publishes client h with TAT `tat` in slot w (shard mutex held). For an
// occupied slot the TAT is taken first, so lock-free readers of the old
// client see kBusy rather than the new client's TAT under the old key.
void RateLimiter::install(Slot w, uint64_t h, int64_t tat) {
  if (w.bucket->key[w.way].load(std::memory_order_relaxed) != 0) take(w.bucket->tat[w.way]);
  else w.bucket->tat[w.way].store(kBusy, std::memory_order_relaxed);
  w.bucket->key[w.way].store(h, std::memory_order_release);
  w.bucket->tat[w.way].store(tat, std::memory_order_release);
}

// A slot for a new client in one of its buckets; the caller holds s.mu and
// install()s into it. Order of preference:
//  1. an empty slot, in the caller's CPU's half if it has one;
//  2. a slot whose entry has fully refilled (TAT <= now). Forgetting such an
//     entry changes no decision: an unknown client is evaluated with
//     TAT = now, and max(TAT, now) == now for every TAT <= now, so the
//     client's next request gets exactly the answer it would have got;
//  3. room made by moving an entry to its other bucket (relocate());
//  4. the entry with the smallest TAT: the one that will refill first, so
//     forgetting it grants the least extra allowance. That is a real loss of
//     information, and forced_evictions counts it.
RateLimiter::Slot RateLimiter::claim_slot(Shard& s, const Cands& c, int64_t now_ns) {
  for (size_t i = 0; i < c.n; ++i)
    for (size_t w = 0; w < kWays; ++w)
      if (c.b[i]->key[w].load(std::memory_order_relaxed) == 0) {
        bump(s.entries);
        return Slot{c.b[i], w};
      }
  // No slot is kBusy here: only holders of s.mu set it, and they clear it.
  Slot oldest{c.b[0], 0};
  int64_t oldest_tat = std::numeric_limits<int64_t>::max();
  for (size_t i = 0; i < c.n; ++i)
    for (size_t w = 0; w < kWays; ++w) {
      const int64_t tat = c.b[i]->tat[w].load(std::memory_order_relaxed);
      if (tat <= now_ns) {
        bump(s.refilled_reused);
        return Slot{c.b[i], w};
      }
      if (tat < oldest_tat) { oldest_tat = tat; oldest = Slot{c.b[i], w}; }
    }
  if (auto moved = relocate(s, c)) {
    bump(s.entries);
    return *moved;
  }
  bump(s.forced_evictions);
  return oldest;
}

// All of the newcomer's buckets are full, but the shard may not be: make
// room by moving an entry to another of its own buckets (a cuckoo step,
// kRelocateDepth deep) and hand out the slot that frees up. Measured with
// the default table and one thread spraying new clients: without this,
// forced evictions begin when the table is about 70% full (the caller's
// half fills first); with one step, at about 94% (shards fill unevenly).
// Two steps gained nothing measurable with four candidate buckets and cost
// up to 25 times more bucket reads. Skipped once the shard is full (entries
// never leave a full shard: refilled slots are reused in place), so a spray
// against a full table costs nothing extra; the fill-up phase pays it once.
std::optional<RateLimiter::Slot> RateLimiter::relocate(Shard& s, const Cands& c) {
  if (s.entries.load(std::memory_order_relaxed) >= buckets_per_shard_ * kWays) return std::nullopt;
  for (size_t i = 0; i < c.n; ++i)
    if (auto slot = make_room(s, c.b[i], kRelocateDepth)) return slot;
  return std::nullopt;
}

// An empty slot in `b`, emptied if need be by moving one of its entries
// into an empty slot of another of that entry's buckets, found the same way
// with one step less. The moved client is briefly in two slots: the old one
// kBusy (lock-free readers retry), the new one complete.
std::optional<RateLimiter::Slot> RateLimiter::make_room(Shard& s, Bucket* b, int depth) {
  for (size_t w = 0; w < kWays; ++w)
    if (b->key[w].load(std::memory_order_relaxed) == 0) return Slot{b, w};
  if (depth == 0) return std::nullopt;
  for (size_t w = 0; w < kWays; ++w) {
    const uint64_t h = b->key[w].load(std::memory_order_relaxed);
    const Cands alt = buckets_for(s, h, 0);
    for (size_t i = 0; i < alt.n; ++i) {
      if (alt.b[i] == b) continue;
      if (auto to = make_room(s, alt.b[i], depth - 1)) {
        const int64_t tat = take(b->tat[w]);
        install(*to, h, tat);
        b->key[w].store(0, std::memory_order_release);
        b->tat[w].store(0, std::memory_order_release);
        return Slot{b, w};
      }
    }
  }
  return std::nullopt;
}

void RateLimiter::count_decision(PolicyId id, bool allowed, unsigned cpu) {
  const size_t i = size_t{id} * 2 + (allowed ? 0 : 1);
  counters_[(cpu % kStripes) * counter_lines_ + i / 8].v[i % 8].fetch_add(1, std::memory_order_relaxed);
}

// The lock-free attempt for a client already in the table. nullopt: not
// found, or raced with a structural change or another update; the caller
// retries or takes the mutex.
std::optional<Decision> RateLimiter::try_fast(const RatePolicy& p, const Cands& c, uint64_t h,
                                              int64_t now_ns, bool record, bool& absent,
                                              Bucket*& found_in) const {
  const auto slot = find(c, h);
  absent = !slot;
  if (!slot) return std::nullopt;
  found_in = slot->bucket;
  std::atomic<int64_t>& tat = slot->bucket->tat[slot->way];
  int64_t old = tat.load(std::memory_order_acquire);
  if (old == kBusy || slot->bucket->key[slot->way].load(std::memory_order_acquire) != h)
    return std::nullopt;
  const GcraOutcome o = gcra_evaluate(p, old, now_ns);
  if (!o.d.allowed || !record) return o.d;
  // Fails if anyone changed the TAT since we read it: another decision, or
  // take() by a structural change. The one gap: the slot is taken and
  // re-installed for another client whose new TAT equals `old` to the
  // nanosecond, all between our key check and this line; then one
  // emission interval is charged to that client instead of ours. A refilled
  // slot cannot do that (its new TAT is > now >= old); a forced eviction
  // would need an exact nanosecond coincidence inside a few-ns window.
  if (!tat.compare_exchange_strong(old, o.new_tat)) return std::nullopt;
  return o.d;
}

// An allowed decision found its client in the other CPU's half of the shard
// (buckets_for()): the client was first seen on the other core, or this
// thread has moved. Now and then, and only when this CPU's bucket has an
// empty slot, move the client here, so that clients follow the core that
// serves them. One time in 16: a client whose requests alternate between
// cores would otherwise move on every request, and each move takes the
// mutex and writes two key lines. Never waits for the mutex: it is only an
// optimisation. The move is make_room()'s: the old slot is taken (kBusy)
// before the new one is published, so no decision is lost or counted twice.
void RateLimiter::maybe_rehome(Shard& s, const Cands& c, Bucket* other, uint64_t h) {
  thread_local unsigned tick = 0;
  if (++tick % kRehomeEvery != 0) return;
  auto free_slot = [&c]() -> std::optional<Slot> {
    for (size_t i = 0; i < c.own; ++i)
      for (size_t w = 0; w < kWays; ++w)
        if (c.b[i]->key[w].load(std::memory_order_relaxed) == 0) return Slot{c.b[i], w};
    return std::nullopt;
  };
  if (!free_slot()) return;
  std::unique_lock lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto to = free_slot();
  if (!to) return;
  for (size_t w = 0; w < kWays; ++w)
    if (other->key[w].load(std::memory_order_relaxed) == h) {
      install(*to, h, take(other->tat[w]));
      other->key[w].store(0, std::memory_order_release);
      other->tat[w].store(0, std::memory_order_release);
      bump(s.rehomed);
      return;
    }
}

Decision RateLimiter::decide(PolicyId id, std::string_view client, int64_t now_ns) {
  const unsigned cpu = current_cpu();
  const Decision d = run(id, client, now_ns, true, cpu);
  count_decision(id, d.allowed, cpu);
  return d;
}

Decision RateLimiter::peek(PolicyId id, std::string_view client, int64_t now_ns) const {
  // With record == false, run() changes nothing (it may take a shard mutex).
  return const_cast<RateLimiter*>(this)->run(id, client, now_ns, false, current_cpu());
}

Decision RateLimiter::run(PolicyId id, std::string_view client, int64_t now_ns, bool record,
                         unsigned cpu) {
  const RatePolicy& p = policies_[id].policy;
  const uint64_t h = key_hash(id, client);
  Shard& s = shard_for(h);
  const Cands c = buckets_for(s, h, cpu);  // this CPU's half first
  bool absent = false;
  Bucket* found_in = nullptr;
  for (int attempt = 0; attempt < 4 && !absent; ++attempt)
    if (auto d = try_fast(p, c, h, now_ns, record, absent, found_in)) {
      if (d->allowed && record && std::find(c.b, c.b + c.own, found_in) == c.b + c.own)
        maybe_rehome(s, c, found_in, h);
      return *d;
    }

  // A new client, or contention: decide under the mutex. Lock-free updates
  // of this client's TAT may still race, hence the compare-and-swap loop.
  std::lock_guard lock(s.mu);
  if (const auto slot = find(c, h)) {
    std::atomic<int64_t>& tat = slot->bucket->tat[slot->way];
    int64_t old = tat.load();
    while (true) {
      const GcraOutcome o = gcra_evaluate(p, old, now_ns);
      if (!o.d.allowed || !record || tat.compare_exchange_weak(old, o.new_tat)) return o.d;
    }
  }
  const GcraOutcome o = gcra_evaluate(p, now_ns, now_ns);
  if (o.d.allowed && record) install(claim_slot(s, c, now_ns), h, o.new_tat);
  return o.d;
}

// ---------------------------------------------------------------- persistence

LimiterSnapshot RateLimiter::snapshot(int64_t now_mono_ns, int64_t now_wall_ns) const {
  LimiterSnapshot snap{seed_, {}};
  snap.entries.reserve(entries());
  for (size_t i = 0; i < shard_count_; ++i) {
    const Shard& s = shards_[i];
    std::lock_guard lock(s.mu);  // no moves while we walk, so no client twice
    for (size_t b = 0; b < buckets_per_shard_; ++b)
      for (size_t w = 0; w < kWays; ++w) {
        const Bucket& bk = first_bucket(i)[b];
        const uint64_t key = bk.key[w].load(std::memory_order_acquire);
        const int64_t tat = bk.tat[w].load(std::memory_order_acquire);
        if (key == 0 || tat <= now_mono_ns) continue;
        // Saturate: a caller may ask for every entry with an extreme "now".
        int64_t ahead = 0, wall = 0;
        if (__builtin_sub_overflow(tat, now_mono_ns, &ahead)) ahead = INT64_MAX;
        if (__builtin_add_overflow(ahead, now_wall_ns, &wall)) wall = INT64_MAX;
        snap.entries.push_back({key, wall});
      }
  }
  return snap;
}

RateLimiter::RestoreResult RateLimiter::restore(const LimiterSnapshot& snap, int64_t now_mono_ns,
                                                int64_t now_wall_ns) {
  RestoreResult res;
  if (!(snap.seed == seed_)) return res;
  res.seed_matches = true;
  for (const SnapshotEntry& e : snap.entries) {
    if (e.key == 0) continue;
    if (e.tat_unix_ns <= now_wall_ns) {  // refilled while we were down
      ++res.dropped_refilled;
      continue;
    }
    // ahead: how long until this entry has refilled, the same on both clocks.
    int64_t ahead = 0;
    if (__builtin_sub_overflow(e.tat_unix_ns, now_wall_ns, &ahead)) ahead = max_burst_span_ns_;
    const int64_t tat = now_mono_ns + std::min(ahead, max_burst_span_ns_);
    Shard& s = shard_for(e.key);
    const Cands c = buckets_for(s, e.key, 0);
    std::lock_guard lock(s.mu);
    if (const auto found = find(c, e.key)) {
      std::atomic<int64_t>& t = found->bucket->tat[found->way];
      int64_t cur = t.load();
      while (cur < tat && !t.compare_exchange_weak(cur, tat)) {
      }
    } else {
      install(claim_slot(s, c, now_mono_ns), e.key, tat);
    }
    ++res.restored;
  }
  return res;
}

// ---------------------------------------------------------------- counters

size_t RateLimiter::entries() const {
  uint64_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i) n += shards_[i].entries.load(std::memory_order_relaxed);
  return n;
}

uint64_t RateLimiter::forced_evictions() const {
  uint64_t n = 0;
  for (size_t i = 0; i < shard_count_; ++i)
    n += shards_[i].forced_evictions.load(std::memory_order_relaxed);
  return n;
}

LimiterStats RateLimiter::stats() const {
  LimiterStats st;
  st.capacity = capacity_;
  st.entries = entries();
  st.forced_evictions = forced_evictions();
  for (const auto& ps : policies_) st.policies.push_back({ps.policy.name, 0, 0});
  for (size_t i = 0; i < shard_count_; ++i) {
    st.refilled_reused += shards_[i].refilled_reused.load(std::memory_order_relaxed);
    st.rehomed += shards_[i].rehomed.load(std::memory_order_relaxed);
  }
  auto counter = [&](size_t stripe, size_t i) {
    return counters_[stripe * counter_lines_ + i / 8].v[i % 8].load(std::memory_order_relaxed);
  };
  for (size_t stripe = 0; stripe < kStripes; ++stripe)
    for (size_t p = 0; p < policies_.size(); ++p) {
      st.policies[p].allowed += counter(stripe, 2 * p);
      st.policies[p].refused += counter(stripe, 2 * p + 1);
    }
  return st;
}

}  // namespace mlgate
