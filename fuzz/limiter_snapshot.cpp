// Fuzz target: the saved rate-limiter state (decode_snapshot), read from
// the database at start-up: a file on disk that may be truncated, corrupt,
// or written by another version.
// Properties:
// - a snapshot that decodes re-encodes to exactly the same bytes (round
//   trip), and encoding then decoding any snapshot gives it back;
// - restoring it into a limiter with its seed never locks a client out for
//   longer than the longest policy's burst span (a corrupt or far-future
//   TAT is clamped), counts every entry as restored or dropped, and
//   decisions afterwards keep their contract; with another seed nothing is
//   restored.
// fuzz-dict: snapshot
#include <string>

#include "fuzz_check.hpp"
#include "rate_limiter.hpp"

namespace {

bool same(const mlgate::LimiterSnapshot& a, const mlgate::LimiterSnapshot& b) {
  if (!(a.seed == b.seed) || a.entries.size() != b.entries.size()) return false;
  for (size_t i = 0; i < a.entries.size(); ++i)
    if (a.entries[i].key != b.entries[i].key || a.entries[i].tat_unix_ns != b.entries[i].tat_unix_ns)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mlgate;
  const std::string_view in = fuzz::as_text(data, size);
  const auto snap = decode_snapshot(in);
  if (!snap) {
    // A snapshot built from the input's bytes still round-trips.
    LimiterSnapshot made;
    for (size_t i = 0; i + 16 <= size && made.entries.size() < 64; i += 16) {
      SnapshotEntry e;
      __builtin_memcpy(&e.key, data + i, 8);
      __builtin_memcpy(&e.tat_unix_ns, data + i + 8, 8);
      made.entries.push_back(e);
    }
    const auto back = decode_snapshot(encode_snapshot(made));
    FUZZ_CHECK(back && same(*back, made));
    return 0;
  }
  FUZZ_CHECK(encode_snapshot(*snap) == in);

  // free 5/min: span 60 s; auth 20/min,burst=40: span 120 s, the longest.
  const auto free_rate = parse_rate("5/min", "free");
  const auto auth = parse_rate("20/min,burst=40", "auth");
  LimiterOptions opt;
  opt.capacity = 256;
  opt.shards = 2;
  opt.seed = snap->seed;
  RateLimiter lim({*free_rate.policy, *auth.policy}, opt);
  const int64_t span = auth.policy->burst_span_ns();
  const int64_t mono = int64_t{1} << 40, wall = int64_t{1'700'000'000} * kNsPerSecond;
  const auto res = lim.restore(*snap, mono, wall);
  FUZZ_CHECK(res.seed_matches);
  FUZZ_CHECK(res.restored + res.dropped_refilled <= snap->entries.size());
  FUZZ_CHECK(lim.entries() <= lim.capacity());
  // Nothing restored runs further ahead than the longest burst span: the
  // snapshot taken now holds no TAT beyond now + span.
  for (const auto& e : lim.snapshot(mono, wall).entries)
    FUZZ_CHECK(e.tat_unix_ns > wall && e.tat_unix_ns - wall <= span);
  for (PolicyId id : {PolicyId{0}, PolicyId{1}}) {
    const Decision d = lim.decide(id, "192.0.2.1", mono);
    // A TAT restored for this policy's client is at most `span` ahead (the
    // snapshot does not say which policy an entry was), so the wait is at
    // most span + T - this policy's own span.
    const RatePolicy& p = lim.policy(id);
    FUZZ_CHECK(d.allowed || (d.wait_ns > 0 && d.wait_ns <= span + p.emission_ns() - p.burst_span_ns()));
  }
  // Another process's seed: the snapshot means nothing here.
  opt.seed = HashSeed{snap->seed.k0 ^ 1, snap->seed.k1};
  RateLimiter other({*free_rate.policy}, opt);
  const auto none = other.restore(*snap, mono, wall);
  FUZZ_CHECK(!none.seed_matches && none.restored == 0 && other.entries() == 0);
  return 0;
}
