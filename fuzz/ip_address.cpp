// Fuzz target: client addresses and CIDR ranges as text (the peer address
// the socket gives, --trusted-proxy values, X-Forwarded-For elements), and
// the limiter key made from an address.
// Properties:
// - an accepted address prints in its canonical form, which parses back to
//   the same address and prints the same (round trip); IPv4-mapped IPv6 is
//   the IPv4 address;
// - an accepted range prints canonically, parses back to the same range,
//   contains its own network address, and has no host bits set; a refused
//   one has a one-line, printable error;
// - limiter_key of an IPv4 address is the address; of an IPv6 address, a
//   range that parses and contains the address, for any prefix length.
// fuzz-dict: ip
#include <string>

#include "client_address.hpp"
#include "fuzz_check.hpp"

namespace {

bool one_printable_line(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mlgate;
  const std::string_view in = fuzz::as_text(data, size);

  if (const auto a = IpAddress::parse(in)) {
    const std::string text = a->to_string();
    const auto back = IpAddress::parse(text);
    FUZZ_CHECK(back && *back == *a && back->to_string() == text);
    FUZZ_CHECK(a->is_v4() == (text.find(':') == std::string::npos));
    const int prefix = size ? data[0] % 140 - 6 : 64;  // out of range too: clamped
    const std::string key = limiter_key(*a, prefix);
    if (a->is_v4()) {
      FUZZ_CHECK(key == text);
    } else {
      const auto range = CidrRange::parse(key);
      FUZZ_CHECK(range && range.range->contains(*a));
    }
  }

  const auto r = CidrRange::parse(in);
  if (!r) {
    FUZZ_CHECK(one_printable_line(r.error));
    return 0;
  }
  const std::string text = r.range->to_string();
  const auto back = CidrRange::parse(text);
  FUZZ_CHECK(back && back.range->to_string() == text);
  const auto slash = text.find('/');
  const auto network = IpAddress::parse(text.substr(0, slash));
  FUZZ_CHECK(network && r.range->contains(*network));
  return 0;
}
