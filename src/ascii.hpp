// ascii.hpp: ASCII-only text helpers for protocol text (header names and
// tokens), the same in any locale.
#pragma once

#include <string_view>

namespace mlgate {

// Equal but for the case of A-Z (HTTP header names, Connection tokens).
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace mlgate
