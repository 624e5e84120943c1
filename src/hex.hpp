// hex.hpp: bytes as lowercase hexadecimal (hashes and random ids in text
// columns and Redis commands).
#pragma once

#include <cstddef>
#include <string>

namespace mlgate {

inline std::string to_hex(const void* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

}  // namespace mlgate
