// limiter_snapshot.cpp: the byte format of the embedded limiter's saved
// table (magic, seed, then key and TAT of each entry, little-endian), which
// the server keeps in its database between runs. Declared in
// rate_limiter.hpp; decode_snapshot refuses anything malformed (it is fuzzed:
// fuzz/limiter_snapshot.cpp).
#include "rate_limiter.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

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

}  // namespace mlgate
