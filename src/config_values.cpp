// config_values.cpp: see config_values.hpp.
#include "config_values.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <optional>
#include <sstream>

#include "client_address.hpp"
#include "config.hpp"
#include "rate_limiter.hpp"

namespace mlgate::config_values {

std::string set_duration(int64_t& out, const std::string& v, int64_t lo_ms, const char* range) {
  constexpr int64_t kMax = 36'500LL * 86'400'000;  // 100 years
  auto d = parse_duration_ms(v);
  if (!d || *d < lo_ms || *d > kMax) return std::string("expected a duration ") + range;
  out = *d;
  return "";
}

std::string set_positive_duration(int64_t& out, const std::string& v) {
  auto d = parse_duration_ms(v);
  if (!d || *d < 1000 || *d > 86'400'000) return "expected a duration from 1s to 1d, such as 10s";
  out = *d;
  return "";
}

// "20ms", or any duration parse_duration_ms takes ("1s"), within [lo, hi] ms.
std::string set_ms(int64_t& out, const std::string& v, int64_t lo, int64_t hi) {
  std::optional<int64_t> ms;
  if (v.size() > 2 && v.compare(v.size() - 2, 2, "ms") == 0) {
    int64_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size() - 2, n);
    if (r.ec == std::errc() && r.ptr == v.data() + v.size() - 2) ms = n;
  } else {
    ms = parse_duration_ms(v);
  }
  if (!ms || *ms < lo || *ms > hi)
    return "expected a duration from " + std::to_string(lo) + "ms to " + std::to_string(hi) +
           "ms, such as 20ms or 1s";
  out = *ms;
  return "";
}

std::string set_bool(bool& out, const std::string& v) {
  if (v == "1" || v == "true" || v == "yes" || v == "on") out = true;
  else if (v == "0" || v == "false" || v == "no" || v == "off") out = false;
  else return "expected true or false";
  return "";
}

std::string set_text(std::string& out, const std::string& v, const char* what) {
  if (v.empty()) return std::string("expected ") + what + ", not an empty value";
  out = v;
  return "";
}

std::string rate_error(const std::string& v) {
  auto p = parse_rate(v, "x");
  return p ? "" : p.error;
}

std::string set_rate(std::string& out, const std::string& v) {
  if (auto e = rate_error(v); !e.empty()) return e;
  out = v;
  return "";
}

// An IPv4 or IPv6 address, or a host name (RFC 1123 labels).
std::string host_error(const std::string& v) {
  const char* expected = "expected an IP address or a host name";
  if (v.empty()) return expected;
  unsigned char buf[16];
  if (inet_pton(AF_INET, v.c_str(), buf) == 1 || inet_pton(AF_INET6, v.c_str(), buf) == 1) return "";
  if (v.size() > 253) return expected;
  std::stringstream ss(v);
  size_t labels = 0;
  for (std::string label; std::getline(ss, label, '.'); ++labels) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return expected;
    for (char ch : label)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-') return expected;
  }
  if (labels == 0 || v.back() == '.') return expected;
  return "";
}

// An exact browser origin: scheme://host[:port], nothing after it. "*" and
// anything with a path would never match (or, for "*", is refused on
// purpose: mlgate never allows every origin).
std::string origin_error(const std::string& v) {
  const char* expected = "expected an origin such as https://app.example.com (no path, no *)";
  auto sep = v.find("://");
  if (sep == std::string::npos || sep == 0 || sep + 3 >= v.size()) return expected;
  for (size_t i = 0; i < sep; ++i) {
    char ch = v[i];
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          (i > 0 && (std::isdigit(static_cast<unsigned char>(ch)) || ch == '+' || ch == '-' || ch == '.'))))
      return expected;
  }
  for (size_t i = sep + 3; i < v.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(v[i]);
    if (ch <= ' ' || ch >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '*' || ch == '@')
      return expected;
  }
  return "";
}

std::string cidr_error(const std::string& v) {
  auto c = CidrRange::parse(v);
  return c ? "" : c.error;
}

}  // namespace mlgate::config_values
