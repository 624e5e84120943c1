// fuzz_check.hpp: what every fuzz target includes.
//
// A target checks properties, not only survival: FUZZ_CHECK(cond) aborts
// with the condition's text when an input breaks one, which libFuzzer
// reports as a crash (and saves the input) and the replay driver as a
// failed test. It stays on in every build type (assert() would vanish
// under NDEBUG, which the Release replay build defines).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `in` at the first `sep`: the part before it and the rest (the rest
// is empty when there is no separator). Targets that take several fields
// (a peer address and a header, a file and its environment) use it, so a
// seed file stays readable text.
inline std::pair<std::string_view, std::string_view> split(std::string_view in, char sep) {
  const auto at = in.find(sep);
  if (at == std::string_view::npos) return {in, {}};
  return {in.substr(0, at), in.substr(at + 1)};
}

}  // namespace fuzz
