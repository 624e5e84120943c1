// printable.hpp: operator input quoted in a one-line error message.
//
// Error lines go to standard error (and the journal) as exactly one line;
// a value the operator typed or a file held may contain a newline, a
// terminal escape or any byte. printable() keeps printable ASCII, writes
// '?' for every other byte, and cuts the value at `max` bytes ("...").
#pragma once

#include <string>
#include <string_view>

namespace mlgate {

inline std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace mlgate
