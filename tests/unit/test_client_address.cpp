// Unit tests for client_address.hpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client_address.hpp"

using namespace mlgate;

namespace {

IpAddress ip(std::string_view s) {
  auto a = IpAddress::parse(s);
  REQUIRE_MESSAGE(a.has_value(), std::string(s));
  return *a;
}

std::vector<CidrRange> ranges(std::initializer_list<const char*> texts) {
  std::vector<CidrRange> out;
  for (const char* t : texts) {
    auto r = CidrRange::parse(t);
    REQUIRE_MESSAGE(r.range.has_value(), r.error);
    out.push_back(*r.range);
  }
  return out;
}

// The client as seen from `peer` with header `xff` and trusted `proxies`.
std::string client(std::string_view peer, std::string_view xff, const std::vector<CidrRange>& proxies) {
  auto c = resolve_client(peer, xff, proxies);
  REQUIRE(c.has_value());
  return c->to_string();
}

}  // namespace

// ------------------------------------------------------------- addresses

TEST_CASE("IPv4 and IPv6 addresses parse and print canonically") {
  CHECK(ip("192.0.2.1").to_string() == "192.0.2.1");
  CHECK(ip("192.0.2.1").is_v4());
  CHECK(ip("2001:DB8:0:0:0:0:0:1").to_string() == "2001:db8::1");
  CHECK_FALSE(ip("2001:db8::1").is_v4());
  CHECK(ip("::1").to_string() == "::1");
}

TEST_CASE("an IPv4-mapped IPv6 address is the IPv4 address") {
  CHECK(ip("::ffff:1.2.3.4") == ip("1.2.3.4"));
  CHECK(ip("::ffff:1.2.3.4").is_v4());
  CHECK(ip("::ffff:0102:0304").to_string() == "1.2.3.4");
  CHECK(ip("::ffff:1.2.3.4").to_string() == "1.2.3.4");
}

TEST_CASE("anything but a plain address is refused") {
  for (const char* bad : {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                          "1.2.3.4:80", "[2001:db8::1]", "2001:db8::1%eth0", "2001:db8:::1", "localhost",
                          "0x7f.0.0.1", "1.2.3.4/32", "unknown",
                          "1111:2222:3333:4444:5555:6666:7777:8888:9999"}) {
    CAPTURE(bad);
    CHECK_FALSE(IpAddress::parse(bad));
  }
}

// ------------------------------------------------------------- ranges

TEST_CASE("CIDR ranges match addresses inside them and not outside, for both families") {
  auto r = ranges({"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"});
  CHECK(r[0].contains(ip("10.255.1.2")));
  CHECK_FALSE(r[0].contains(ip("11.0.0.0")));
  CHECK(r[0].contains(ip("::ffff:10.1.2.3")));
  CHECK_FALSE(r[0].contains(ip("2001:db8::1")));
  CHECK(r[1].contains(ip("2001:db8:ffff::1")));
  CHECK_FALSE(r[1].contains(ip("2001:db9::1")));
  CHECK_FALSE(r[1].contains(ip("10.0.0.1")));
  CHECK(r[2].contains(ip("192.0.2.7")));
  CHECK_FALSE(r[2].contains(ip("192.0.2.8")));
}

TEST_CASE("a bare address is a /32 or a /128 range") {
  auto r = ranges({"192.0.2.7", "2001:db8::5"});
  CHECK(r[0].to_string() == "192.0.2.7/32");
  CHECK(r[1].to_string() == "2001:db8::5/128");
  CHECK_FALSE(r[1].contains(ip("2001:db8::6")));
}

TEST_CASE("prefix edges: /0 holds its whole family, odd prefixes cut mid-byte") {
  auto r = ranges({"0.0.0.0/0", "::/0", "172.16.0.0/12", "2001:db8:8000::/33"});
  CHECK(r[0].contains(ip("255.255.255.255")));
  CHECK_FALSE(r[0].contains(ip("2001:db8::1")));
  CHECK(r[1].contains(ip("2001:db8::1")));
  CHECK(r[2].contains(ip("172.31.255.255")));
  CHECK_FALSE(r[2].contains(ip("172.32.0.0")));
  CHECK(r[3].contains(ip("2001:db8:ffff::")));
  CHECK_FALSE(r[3].contains(ip("2001:db8:7fff::")));
}

TEST_CASE("an IPv4-mapped IPv6 range is the IPv4 range") {
  auto r = ranges({"::ffff:10.0.0.0/104"});
  CHECK(r[0].to_string() == "10.0.0.0/8");
  CHECK(r[0].contains(ip("10.9.9.9")));
}

TEST_CASE("malformed ranges and host bits are refused with a message") {
  struct Bad {
    const char* text;
    const char* why;
  } bad[] = {
      {"10.0.0.0/33", "0-32"},      {"2001:db8::/129", "0-128"},   {"10.0.0.0/", "0-32"},
      {"10.0.0.0/-1", "0-32"},      {"10.0.0.0/08", "0-32"},        {"10.0.0.0/8/8", "0-32"},
      {"10.0.0/8", "not an IPv4"},  {"", "not an IPv4"},            {"example.com/8", "not an IPv4"},
      {"10.0.0.1/8", "did you mean 10.0.0.0/8?"},
      {"2001:db8::1/32", "did you mean 2001:db8::/32?"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.text);
    const auto r = CidrRange::parse(b.text);
    CHECK_FALSE(r.range);
    CHECK(r.error.find(b.why) != std::string::npos);
  }
}

// ------------------------------------------------------------- resolution

TEST_CASE("without trusted proxies the socket peer is the client, whatever X-Forwarded-For says") {
  CHECK(client("203.0.113.9", "198.51.100.1", {}) == "203.0.113.9");
}

TEST_CASE("X-Forwarded-For from a peer outside the trusted ranges is ignored") {
  auto proxies = ranges({"10.0.0.0/8"});
  CHECK(client("203.0.113.9", "198.51.100.1", proxies) == "203.0.113.9");
}

TEST_CASE("behind a trusted proxy the right-most untrusted forwarded address is the client") {
  auto proxies = ranges({"10.0.0.0/8"});
  CHECK(client("10.0.0.2", "198.51.100.1", proxies) == "198.51.100.1");
  // The client itself sent a fake first element; the proxy appended the real one.
  CHECK(client("10.0.0.2", "1.1.1.1, 198.51.100.1", proxies) == "198.51.100.1");
  // Two trusted proxies in a row are skipped.
  CHECK(client("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.3", proxies) == "198.51.100.1");
}

TEST_CASE("when every forwarded address is a trusted proxy the left-most is the client") {
  auto proxies = ranges({"10.0.0.0/8"});
  CHECK(client("10.0.0.2", "10.1.1.1, 10.2.2.2", proxies) == "10.1.1.1");
}

TEST_CASE("a trusted peer without X-Forwarded-For is itself the client") {
  auto proxies = ranges({"10.0.0.0/8"});
  CHECK(client("10.0.0.2", "", proxies) == "10.0.0.2");
  CHECK(client("10.0.0.2", "  ", proxies) == "10.0.0.2");
}

TEST_CASE("a malformed X-Forwarded-For falls back to the peer") {
  auto proxies = ranges({"10.0.0.0/8"});
  for (const char* bad : {"198.51.100.1, garbage", "garbage, 198.51.100.1", "198.51.100.1,,1.2.3.4",
                          "198.51.100.1,", ",198.51.100.1", "198.51.100.1:4711", "[2001:db8::1]",
                          "unknown", "198.51.100.1;for=x", "198.51.100.1\r\nX-Evil: 1"}) {
    CAPTURE(bad);
    CHECK(client("10.0.0.2", bad, proxies) == "10.0.0.2");
  }
}

TEST_CASE("an X-Forwarded-For with too many elements or too many bytes falls back to the peer") {
  auto proxies = ranges({"10.0.0.0/8"});
  std::string ok, too_many;
  for (size_t i = 0; i < kMaxForwardedElements; ++i) ok += (i ? ",1.2.3." : "1.2.3.") + std::to_string(i % 250);
  CHECK(client("10.0.0.2", ok, proxies) != "10.0.0.2");
  too_many = ok + ",5.6.7.8";
  CHECK(client("10.0.0.2", too_many, proxies) == "10.0.0.2");
  std::string long_header = "198.51.100.1" + std::string(kMaxForwardedBytes, ' ');
  CHECK(client("10.0.0.2", long_header, proxies) == "10.0.0.2");
}

TEST_CASE("spaces and tabs around X-Forwarded-For elements are allowed") {
  auto proxies = ranges({"10.0.0.0/8"});
  CHECK(client("10.0.0.2", " 1.1.1.1 ,\t198.51.100.1\t", proxies) == "198.51.100.1");
}

TEST_CASE("IPv6 proxies and clients resolve, and an IPv4-mapped peer matches an IPv4 range") {
  auto proxies = ranges({"2001:db8:1::/48", "10.0.0.0/8"});
  CHECK(client("2001:db8:1::5", "2001:db8:2::9", proxies) == "2001:db8:2::9");
  CHECK(client("::ffff:10.0.0.2", "198.51.100.1", proxies) == "198.51.100.1");
  CHECK(client("10.0.0.2", "::ffff:198.51.100.1", proxies) == "198.51.100.1");
}

TEST_CASE("a peer with an IPv6 zone still resolves; an unparseable peer gives nothing") {
  auto proxies = ranges({"fe80::/10"});
  CHECK(client("fe80::1%eth0", "198.51.100.1", proxies) == "198.51.100.1");
  CHECK_FALSE(resolve_client("not-an-address", "", proxies));
}

// ------------------------------------------------------------- limiter keys

TEST_CASE("an IPv4 client is limited per address") {
  CHECK(limiter_key(ip("198.51.100.7")) == "198.51.100.7");
  CHECK(limiter_key(ip("::ffff:198.51.100.7")) == "198.51.100.7");
  CHECK(limiter_key(ip("198.51.100.7")) != limiter_key(ip("198.51.100.8")));
}

TEST_CASE("IPv6 clients in one /64 share a limiter key by default") {
  CHECK(limiter_key(ip("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64");
  CHECK(limiter_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")) == limiter_key(ip("2001:db8:1:2::9")));
  CHECK(limiter_key(ip("2001:db8:1:3::1")) != limiter_key(ip("2001:db8:1:2::1")));
}

TEST_CASE("the IPv6 prefix length of limiter keys is configurable") {
  CHECK(limiter_key(ip("2001:db8:1:2::1"), 48) == "2001:db8:1::/48");
  CHECK(limiter_key(ip("2001:db8:1:2::1"), 128) == "2001:db8:1:2::1/128");
  CHECK(limiter_key(ip("2001:db8:1:2::1"), 56) == limiter_key(ip("2001:db8:1:ff::1"), 56));
  CHECK(limiter_key(ip("2001:db8:1:2::1"), 999) == "2001:db8:1:2::1/128");
}
