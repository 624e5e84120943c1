// limiter_hash.cpp: the keyed hash of a (policy, client) pair that places
// it in the embedded limiter's table (SipHash-2-4 under a per-database
// seed, so a client cannot aim for one bucket), and the seed. Declared in
// rate_limiter.hpp.
#include "rate_limiter.hpp"

#include <sys/random.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace mlgate {

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

}  // namespace mlgate
