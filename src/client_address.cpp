// client_address.cpp: see client_address.hpp for the contract.
#include "client_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "printable.hpp"

namespace mlgate {

namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Keeps the first `bits` bits of `b`, zeroes the rest.
std::array<uint8_t, 16> mask(std::array<uint8_t, 16> b, int bits) {
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(bits - 8 * i, 0, 8);
    b[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return b;
}

constexpr std::string_view kSpace = " \t";

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// Strict 0..max decimal, no sign, no leading zeros ("08" is a typo of 8?).
std::optional<int> parse_prefix(std::string_view s, int max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

}  // namespace

// ---------------------------------------------------------------- IpAddress

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.bytes_.begin());
    std::copy(v4, v4 + 4, a.bytes_.begin() + 12);
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) return a;
  return std::nullopt;
}

IpAddress IpAddress::from_v4(std::array<uint8_t, 4> octets) {
  IpAddress a;
  std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.bytes_.begin());
  std::copy(octets.begin(), octets.end(), a.bytes_.begin() + 12);
  return a;
}

IpAddress IpAddress::from_bytes(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.bytes_ = bytes;
  return a;
}

bool IpAddress::is_v4() const {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes_.begin());
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const char* ok = is_v4() ? inet_ntop(AF_INET, bytes_.data() + 12, buf, sizeof buf)
                           : inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  return ok ? std::string(buf) : std::string();
}

// ---------------------------------------------------------------- CidrRange

CidrRange::Parse CidrRange::parse(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return Parse{std::nullopt, "invalid trusted proxy range \"" + printable(text) + "\": " + std::string(why)};
  };
  const auto slash = text.find('/');
  const auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return fail("not an IPv4 or IPv6 address");
  // A range written in IPv4 (or IPv4-mapped IPv6 with a prefix past 96)
  // is an IPv4 range; its length is counted within the mapped space.
  const bool v4_text = text.substr(0, slash).find(':') == std::string_view::npos;
  const int max = v4_text ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    const auto p = parse_prefix(text.substr(slash + 1), max);
    if (!p) return fail(v4_text ? "prefix length must be 0-32" : "prefix length must be 0-128");
    prefix = *p;
  }
  CidrRange r;
  r.prefix128_ = v4_text ? 96 + prefix : prefix;
  r.network_ = *addr;
  if (mask(addr->bytes(), r.prefix128_) != addr->bytes()) {
    CidrRange fixed = r;
    fixed.network_ = IpAddress::from_bytes(mask(addr->bytes(), r.prefix128_));
    return fail("host bits are set (did you mean " + fixed.to_string() + "?)");
  }
  return Parse{r, {}};
}

bool CidrRange::contains(const IpAddress& addr) const {
  return mask(addr.bytes(), prefix128_) == network_.bytes();
}

std::string CidrRange::to_string() const {
  const bool v4 = network_.is_v4() && prefix128_ >= 96;
  return network_.to_string() + "/" + std::to_string(v4 ? prefix128_ - 96 : prefix128_);
}

// ---------------------------------------------------------------- resolution

namespace {

bool trusted(const IpAddress& a, std::span<const CidrRange> ranges) {
  return std::any_of(ranges.begin(), ranges.end(), [&](const CidrRange& r) { return r.contains(a); });
}

// Every element of the header, or nullopt if any part of it is malformed.
std::optional<std::vector<IpAddress>> parse_forwarded(std::string_view xff) {
  if (xff.size() > kMaxForwardedBytes) return std::nullopt;
  std::vector<IpAddress> out;
  size_t pos = 0;
  while (true) {
    const size_t comma = xff.find(',', pos);
    const auto addr = IpAddress::parse(trim(xff.substr(pos, comma - pos)));
    if (!addr || out.size() == kMaxForwardedElements) return std::nullopt;
    out.push_back(*addr);
    if (comma == std::string_view::npos) return out;
    pos = comma + 1;
  }
}

}  // namespace

IpAddress resolve_client(const IpAddress& peer, std::string_view xff,
                         std::span<const CidrRange> trusted_proxies) {
  if (!trusted(peer, trusted_proxies) || trim(xff).empty()) return peer;
  const auto chain = parse_forwarded(xff);
  if (!chain) return peer;
  for (auto it = chain->rbegin(); it != chain->rend(); ++it)
    if (!trusted(*it, trusted_proxies)) return *it;
  return chain->front();
}

std::optional<IpAddress> resolve_client(std::string_view peer, std::string_view xff,
                                        std::span<const CidrRange> trusted_proxies) {
  const auto p = IpAddress::parse(peer.substr(0, peer.find('%')));
  if (!p) return std::nullopt;
  return resolve_client(*p, xff, trusted_proxies);
}

std::string limiter_key(const IpAddress& addr, int ipv6_prefix) {
  if (addr.is_v4()) return addr.to_string();
  const int bits = std::clamp(ipv6_prefix, 0, 128);
  const auto net = mask(addr.bytes(), bits);
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, net.data(), buf, sizeof buf)) return {};
  return std::string(buf) + "/" + std::to_string(bits);
}

}  // namespace mlgate
