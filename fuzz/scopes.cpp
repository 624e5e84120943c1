// Fuzz target: key scopes ("predict,read", `keys create --scopes`, and the
// scopes column read back from the database).
// Properties:
// - parse_scopes accepts exactly a non-empty comma-separated list whose
//   every field is a known scope name (an independent reading);
// - round trip: format_scopes(parse_scopes(x)) is accepted and gives the
//   same bits, and for every set of known scopes parse(format(bits)) ==
//   bits; formatting is canonical (formatting twice changes nothing).
// fuzz-dict: scopes
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "key_store.hpp"

namespace {

const std::vector<std::pair<std::string_view, uint32_t>> kKnown = {
    {"predict", mlgate::kScopePredict},
    {"read", mlgate::kScopeRead},
    {"metrics", mlgate::kScopeMetrics},
};

std::optional<uint32_t> reference_parse(std::string_view csv) {
  uint32_t bits = 0;
  size_t start = 0;
  while (true) {
    const size_t comma = csv.find(',', start);
    const std::string_view field = csv.substr(start, comma - start);
    uint32_t bit = 0;
    for (auto& [name, b] : kKnown)
      if (field == name) bit = b;
    if (!bit) return std::nullopt;
    bits |= bit;
    if (comma == std::string_view::npos) return bits;
    start = comma + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::as_text(data, size);
  const auto bits = mlgate::parse_scopes(in);
  FUZZ_CHECK(bits == reference_parse(in));
  if (bits) {
    FUZZ_CHECK(*bits != 0);
    const std::string f = mlgate::format_scopes(*bits);
    FUZZ_CHECK(mlgate::parse_scopes(f) == bits);
    FUZZ_CHECK(mlgate::format_scopes(*mlgate::parse_scopes(f)) == f);
  }
  if (size > 0) {
    uint32_t all = 0;
    for (auto& [name, b] : kKnown) all |= b;
    const uint32_t set = data[0] & all;
    if (set) FUZZ_CHECK(mlgate::parse_scopes(mlgate::format_scopes(set)) == set);
  }
  return 0;
}
