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

#include "printable.hpp"

namespace mlgate {

// ---------------------------------------------------------------- hashing

namespace detail {

namespace {
inline void sip_round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
  v0 += v1; v1 = std::rotl(v1, 13); v1 ^= v0; v0 = std::rotl(v0, 32);
  v2 += v3; v3 = std::rotl(v3, 16); v3 ^= v2;
  v0 += v3; v3 = std::rotl(v3, 21); v3 ^= v0;
  v2 += v1; v1 = std::rotl(v1, 17); v1 ^= v2; v2 = std::rotl(v2, 32);
}

inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

template <int C, int D>
uint64_t siphash(const HashSeed& key, std::string_view data) {
  uint64_t v0 = key.k0 ^ 0x736f6d6570736575ULL;
  uint64_t v1 = key.k1 ^ 0x646f72616e646f6dULL;
  uint64_t v2 = key.k0 ^ 0x6c7967656e657261ULL;
  uint64_t v3 = key.k1 ^ 0x7465646279746573ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  const size_t whole = n & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load_le64(p + i);
    v3 ^= m;
    for (int r = 0; r < C; ++r) sip_round(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(n) << 56;
  for (size_t i = whole; i < n; ++i) b |= static_cast<uint64_t>(p[i]) << (8 * (i - whole));
  v3 ^= b;
  for (int r = 0; r < C; ++r) sip_round(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < D; ++r) sip_round(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

template uint64_t siphash<1, 3>(const HashSeed&, std::string_view);
template uint64_t siphash<2, 4>(const HashSeed&, std::string_view);

}  // namespace detail

HashSeed random_seed() {
  uint64_t words[2];
  auto* p = reinterpret_cast<unsigned char*>(words);
  size_t got = 0;
  while (got < sizeof words) {
    const ssize_t n = getrandom(p + got, sizeof words - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    got += static_cast<size_t>(n);
  }
  return {words[0], words[1]};
}

// ---------------------------------------------------------------- parsing

namespace {

// One request a nanosecond: the clock's resolution. (Benchmarks configure
// effectively unlimited tiers such as 1000000000/s.)
constexpr int64_t kMaxPerSecond = 1'000'000'000;
constexpr int64_t kMaxBurstSpanNs = int64_t{30} * 24 * 3600 * kNsPerSecond;

// Strict decimal: digits only (no sign, no spaces). Values past 10^18 are
// reported as too large rather than wrapped.
struct Count {
  int64_t value = 0;
  const char* error = nullptr;
};
Count parse_count(std::string_view s, const char* what_bad, const char* what_large) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return {0, what_bad};
  const size_t zeros = std::min(s.find_first_not_of('0'), s.size() - 1);
  if (s.size() - zeros > 18) return {0, what_large};
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return {v, nullptr};
}

std::optional<int64_t> unit_ns(std::string_view unit) {
  if (unit == "s") return kNsPerSecond;
  if (unit == "min") return 60 * kNsPerSecond;
  if (unit == "h") return 3600 * kNsPerSecond;
  return std::nullopt;
}

RateParse fail(std::string_view text, std::string_view why) {
  return {std::nullopt, "invalid rate \"" + printable(text) + "\": " + std::string(why)};
}

}  // namespace

bool valid_policy_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

RateParse parse_rate(std::string_view text, std::string_view name) {
  if (!valid_policy_name(name))
    return fail(text, "policy name \"" + printable(name) + "\" must be 1-32 of A-Z a-z 0-9 _ . -");
  std::string_view rate = text, extra;
  if (auto comma = text.find(','); comma != std::string_view::npos) {
    rate = text.substr(0, comma);
    extra = text.substr(comma + 1);
  }
  const auto slash = rate.find('/');
  if (slash == std::string_view::npos) return fail(text, "expected N/s, N/min or N/h");
  const Count count = parse_count(rate.substr(0, slash), "the count must be a whole number",
                                  "more than 1000000000 requests a second");
  if (count.error) return fail(text, count.error);
  if (count.value < 1) return fail(text, "the count must be at least 1");
  const auto period = unit_ns(rate.substr(slash + 1));
  if (!period) return fail(text, "the unit must be s, min or h");
  if (count.value > kMaxPerSecond * (*period / kNsPerSecond))
    return fail(text, "more than 1000000000 requests a second");

  RatePolicy p{std::string(name), count.value, *period, count.value};
  if (text.find(',') != std::string_view::npos) {
    constexpr std::string_view kBurst = "burst=";
    if (extra.substr(0, kBurst.size()) != kBurst) return fail(text, "after the comma expected burst=B");
    const Count burst = parse_count(extra.substr(kBurst.size()), "the burst must be a whole number",
                                    "the burst takes more than 30 days to refill");
    if (burst.error) return fail(text, burst.error);
    if (burst.value < 1) return fail(text, "the burst must be at least 1");
    p.burst = burst.value;
  }
  if (p.burst > kMaxBurstSpanNs / p.emission_ns())
    return fail(text, "the burst takes more than 30 days to refill");
  return {std::move(p), {}};
}

// ---------------------------------------------------------------- GCRA

namespace {

struct Outcome {
  Decision d;
  int64_t new_tat;  // the TAT to store if allowed
};

// The whole algorithm. `tat` is the stored TAT, or now for an unknown client
// (an unknown client and one whose TAT has passed are the same thing).
Outcome evaluate(const RatePolicy& p, int64_t tat, int64_t now) {
  const int64_t T = p.emission_ns();
  const int64_t span = p.burst_span_ns();
  tat = std::max(tat, now);
  const int64_t new_tat = tat + T;
  const int64_t allow_at = new_tat - span;  // == tat - (B-1)*T
  Outcome o{{}, new_tat};
  if (now < allow_at) {
    const int64_t wait = allow_at - now;
    o.d.allowed = false;
    o.d.remaining = 0;
    o.d.wait_ns = wait;
    o.d.retry_after_s = detail::ceil_seconds(wait);  // wait > 0, so >= 1
    o.d.reset_s = o.d.retry_after_s;                 // same instant
    o.d.full_ns = tat - now;
    return o;
  }
  const int64_t level = new_tat - now;          // in (0, span]
  const int64_t r = (span - level) / T;         // whole requests left
  const int64_t next_unit = level - (p.burst - r - 1) * T;  // in (0, T]
  o.d.allowed = true;
  o.d.remaining = r;
  o.d.reset_s = detail::ceil_seconds(next_unit);
  o.d.full_ns = level;
  return o;
}

}  // namespace

std::string ratelimit_policy_item(const RatePolicy& p) {
  // Names are restricted by valid_policy_name, so they need no escaping
  // inside a structured-field string.
  return "\"" + p.name + "\";q=" + std::to_string(p.count) +
         ";w=" + std::to_string(p.period_ns / kNsPerSecond);
}

std::string ratelimit_item(const RatePolicy& p, const Decision& d) {
  return "\"" + p.name + "\";r=" + std::to_string(d.remaining) + ";t=" + std::to_string(d.reset_s);
}

std::string rate_limited_message(int64_t retry_after_s) {
  return "Rate limit exceeded. Try again in " + std::to_string(retry_after_s) + " seconds.";
}

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
  const Outcome o = evaluate(p, old, now_ns);
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
      const Outcome o = evaluate(p, old, now_ns);
      if (!o.d.allowed || !record || tat.compare_exchange_weak(old, o.new_tat)) return o.d;
    }
  }
  const Outcome o = evaluate(p, now_ns, now_ns);
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

namespace {
constexpr std::string_view kSnapshotMagic = "MLGRL1";

void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
}  // namespace

std::string encode_snapshot(const LimiterSnapshot& snap) {
  std::string out(kSnapshotMagic);
  out.reserve(kSnapshotMagic.size() + 24 + snap.entries.size() * 16);
  put_u64(out, snap.seed.k0);
  put_u64(out, snap.seed.k1);
  put_u64(out, snap.entries.size());
  for (const auto& e : snap.entries) {
    put_u64(out, e.key);
    put_u64(out, static_cast<uint64_t>(e.tat_unix_ns));
  }
  return out;
}

std::optional<LimiterSnapshot> decode_snapshot(std::string_view bytes) {
  constexpr size_t kHeader = kSnapshotMagic.size() + 24;
  if (bytes.size() < kHeader || bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic)
    return std::nullopt;
  const char* p = bytes.data() + kSnapshotMagic.size();
  LimiterSnapshot snap;
  snap.seed = {get_u64(p), get_u64(p + 8)};
  const uint64_t n = get_u64(p + 16);
  if (n > (bytes.size() - kHeader) / 16 || bytes.size() != kHeader + n * 16) return std::nullopt;
  snap.entries.resize(n);
  p = bytes.data() + kHeader;
  for (uint64_t i = 0; i < n; ++i, p += 16)
    snap.entries[i] = {get_u64(p), static_cast<int64_t>(get_u64(p + 8))};
  return snap;
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
