// config_values.hpp: the checks of single option values (numbers in a
// range, durations, rates, hosts, origins, CIDRs) behind config.cpp's option
// table and validate_config(). Each returns "" or why the value is refused,
// one line, without the option's name (the caller adds where it came from).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

namespace mlgate::config_values {

template <class T>
std::string set_int(T& out, const std::string& v, long long lo, long long hi) {
  long long x = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), x);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || x < lo || x > hi)
    return "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
  out = static_cast<T>(x);
  return "";
}

// A duration from `lo_ms` to `hi_ms`; the upper bounds keep now + d and
// d * 10^6 (nanoseconds) far from overflowing.
std::string set_duration(int64_t& out, const std::string& v, int64_t lo_ms, const char* range);

// From 1 s to 1 day (the connection deadlines).
std::string set_positive_duration(int64_t& out, const std::string& v);

// "20ms", or any duration parse_duration_ms takes ("1s"), within [lo, hi] ms.
std::string set_ms(int64_t& out, const std::string& v, int64_t lo, int64_t hi);

// true/false (and the spellings config.cpp documents).
std::string set_bool(bool& out, const std::string& v);

// Any non-empty text; `what` names it in the error ("a file").
std::string set_text(std::string& out, const std::string& v, const char* what);

// A rate as parse_rate reads it ("50/s,burst=100").
std::string rate_error(const std::string& v);
std::string set_rate(std::string& out, const std::string& v);

// An IPv4 or IPv6 address, or a host name (RFC 1123 labels).
std::string host_error(const std::string& v);

// An exact browser origin: scheme://host[:port], nothing after it. "*" and
// anything with a path would never match (or, for "*", is refused on
// purpose: mlgate never allows every origin).
std::string origin_error(const std::string& v);

// A CIDR range with no host bits set ("10.0.0.0/8").
std::string cidr_error(const std::string& v);

}  // namespace mlgate::config_values
