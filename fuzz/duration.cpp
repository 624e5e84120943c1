// Fuzz target: durations ("90s", "15m", "24h", "7d"): --retention,
// --shutdown-grace, --exec-timeout and `keys create --expires-in`.
// Properties:
// - an accepted duration is a whole number >= 0 times its unit, and never
//   overflows (the value fits in int64 milliseconds);
// - round trip: the canonical spelling of an accepted value (no leading
//   zeros) is accepted and gives the same milliseconds; re-spelling any
//   count in each unit gives count * unit.
// fuzz-dict: duration
#include <string>

#include "config.hpp"
#include "fuzz_check.hpp"

namespace {

int64_t unit_ms(char u) {
  switch (u) {
    case 's': return 1000;
    case 'm': return 60'000;
    case 'h': return 3'600'000;
    case 'd': return 86'400'000;
    default: return 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::as_text(data, size);
  if (const auto ms = mlgate::parse_duration_ms(in)) {
    FUZZ_CHECK(*ms >= 0 && in.size() >= 2);
    const int64_t unit = unit_ms(in.back());
    FUZZ_CHECK(unit != 0 && *ms % unit == 0);
    const std::string digits(in.substr(0, in.size() - 1));
    FUZZ_CHECK(digits.find_first_not_of("0123456789") == std::string::npos);
    const std::string canonical = std::to_string(*ms / unit) + in.back();
    FUZZ_CHECK(mlgate::parse_duration_ms(canonical) == ms);
  }
  // Any count the input spells, in every unit.
  if (size >= 8) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n = (n << 8) | data[i];
    const int64_t count = static_cast<int64_t>(n >> (data[0] % 64));  // small counts too
    for (char u : {'s', 'm', 'h', 'd'}) {
      const auto ms = mlgate::parse_duration_ms(std::to_string(count) + u);
      if (count >= 0 && count <= INT64_MAX / unit_ms(u))
        FUZZ_CHECK(ms && *ms == count * unit_ms(u));
      else
        FUZZ_CHECK(!ms);
    }
  }
  return 0;
}
