// Fuzz target: the Prefer request header (parse_prefer_wait, RFC 7240
// "wait=N" on POST /predict).
// Input: a first byte for the cap (DESIGN.md caps at 30 s; any cap is
// tried), then the header value.
// Properties:
// - the wait is in [0, cap];
// - the cap only caps: parse(x, cap) == min(parse(x, no cap), cap);
// - a positive wait is written in the header as a "wait=" token starting
//   the value or after a space, comma or semicolon, followed by its digits;
// - round trip: "wait=N" alone, and inside other preferences, gives N.
// fuzz-dict: prefer
#include <climits>
#include <string>

#include "fuzz_check.hpp"
#include "routes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int cap = data[0] % 64;
  const std::string_view value = fuzz::as_text(data + 1, size - 1);
  const int w = mlgate::parse_prefer_wait(value, cap);
  FUZZ_CHECK(w >= 0 && w <= cap);
  const int uncapped = mlgate::parse_prefer_wait(value, INT_MAX);
  FUZZ_CHECK(w == std::min(uncapped, cap));
  if (uncapped > 0) {
    const std::string token = "wait=" + std::to_string(uncapped);
    size_t at = value.find(token);
    bool found = false;
    for (; at != std::string_view::npos && !found; at = value.find(token, at + 1)) {
      const bool starts = at == 0 || value[at - 1] == ' ' || value[at - 1] == ',' || value[at - 1] == ';';
      found = starts;
    }
    // Leading zeros ("wait=05") are the only other spelling of N.
    FUZZ_CHECK(found || value.find("wait=0") != std::string_view::npos);
  }
  const int n = data[0];
  FUZZ_CHECK(mlgate::parse_prefer_wait("wait=" + std::to_string(n), INT_MAX) == n);
  FUZZ_CHECK(mlgate::parse_prefer_wait("respond-async, wait=" + std::to_string(n) + "; x=y", cap) ==
             std::min(n, cap));
  return 0;
}
