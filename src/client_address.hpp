// client_address.hpp: who is the client, for per-address rate limits.
//
// What the caller may rely on
// - The client is the socket's peer (cpp-httplib's req.remote_addr). Nothing
//   the client sends is believed (not a REMOTE_ADDR header, not
//   X-Forwarded-For), except X-Forwarded-For when the peer itself is inside
//   one of the configured trusted-proxy ranges (--trusted-proxy CIDR).
// - Behind a trusted proxy the client is the right-most X-Forwarded-For
//   address that is not itself a trusted proxy: every proxy appends the
//   address it received from, so the right-most untrusted entry is the
//   first one no trusted party vouches for. If every entry is trusted, the
//   left-most is used. If the header is malformed in any way (an element
//   that is not a plain IPv4/IPv6 address, an empty element, more than
//   kMaxForwardedElements elements, more than kMaxForwardedBytes bytes), it
//   is ignored as a whole and the peer is the client: a half-understood
//   header is not evidence.
// - IPv4-mapped IPv6 (::ffff:1.2.3.4) is the IPv4 address 1.2.3.4
//   everywhere: in parsing, in range checks, in output and in limiter keys.
// - limiter_key() limits IPv4 clients per address and IPv6 clients per /64
//   by default (one subscriber's whole allocation), so rotating through the
//   addresses of one's own prefix does not multiply one's budget.
// - All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mlgate {

class IpAddress {
 public:
  // Dotted-quad IPv4 (no leading zeros) or any textual IPv6 (RFC 4291; no
  // brackets, no port, no zone). nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress from_v4(std::array<uint8_t, 4> octets);
  // From network-order IPv6 bytes (an IPv4-mapped value is the IPv4 address).
  static IpAddress from_bytes(const std::array<uint8_t, 16>& bytes);

  bool is_v4() const;
  // Always 16 bytes; IPv4 addresses are held in IPv4-mapped form.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // "1.2.3.4" or the RFC 5952 form of an IPv6 address.
  std::string to_string() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

class CidrRange {
 public:
  // "10.0.0.0/8", "2001:db8::/32", or a bare address (/32 or /128). The
  // prefix length belongs to the address's family (0-32 for IPv4, 0-128 for
  // IPv6). Host bits must be zero: "10.0.0.1/8" is refused, as a likely
  // typo. nullopt when `error` is set (a one-line message naming the input).
  struct Parse;
  static Parse parse(std::string_view text);

  bool contains(const IpAddress& addr) const;
  std::string to_string() const;  // canonical: "10.0.0.0/8"

 private:
  IpAddress network_;
  int prefix128_ = 0;  // prefix length in the 128-bit (mapped) space
};

struct CidrRange::Parse {
  std::optional<CidrRange> range;
  std::string error;
  explicit operator bool() const { return range.has_value(); }
};

inline constexpr size_t kMaxForwardedBytes = 2048;
inline constexpr size_t kMaxForwardedElements = 32;

// The client's address. `x_forwarded_for` is the value of every
// X-Forwarded-For field line of the request joined with "," in order (RFC
// 9110 5.3), or empty when there is none.
IpAddress resolve_client(const IpAddress& peer, std::string_view x_forwarded_for,
                         std::span<const CidrRange> trusted_proxies);
// The same from req.remote_addr as text (an IPv6 zone, "%eth0", is ignored);
// nullopt only when the peer address itself does not parse, which a real
// socket never produces.
std::optional<IpAddress> resolve_client(std::string_view peer, std::string_view x_forwarded_for,
                                        std::span<const CidrRange> trusted_proxies);

// The rate-limiter key of an address: "1.2.3.4" for IPv4; the network of
// the first `ipv6_prefix` bits (clamped to 0-128) for IPv6, e.g.
// "2001:db8:1:2::/64".
std::string limiter_key(const IpAddress& addr, int ipv6_prefix = 64);

}  // namespace mlgate
