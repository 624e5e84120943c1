// key_store.cpp: what every KeyStore implementation shares (key_store.hpp).
#include "key_store.hpp"

namespace mlgate {
namespace {

constexpr std::pair<const char*, uint32_t> kScopeNames[] = {
    {"predict", kScopePredict},
    {"read", kScopeRead},
    {"metrics", kScopeMetrics},
};

}  // namespace

uint32_t stored_scopes(std::string_view csv) {
  uint32_t bits = 0;
  while (!csv.empty()) {
    size_t comma = csv.find(',');
    std::string_view name = csv.substr(0, comma);
    for (auto& [n, b] : kScopeNames)
      if (name == n) bits |= b;
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  return bits;
}

std::optional<uint32_t> parse_scopes(std::string_view csv) {
  // Every comma-separated field must name a scope: "predict,", ",read" and
  // "predict,,read" are refused rather than read leniently.
  if (csv.empty()) return std::nullopt;
  uint32_t bits = 0;
  for (;;) {
    size_t comma = csv.find(',');
    std::string_view name = csv.substr(0, comma);
    uint32_t bit = 0;
    for (auto& [n, b] : kScopeNames)
      if (name == n) bit = b;
    if (!bit) return std::nullopt;
    bits |= bit;
    if (comma == std::string_view::npos) return bits;
    csv.remove_prefix(comma + 1);
  }
}

std::string format_scopes(uint32_t scopes) {
  std::string out;
  for (auto& [n, b] : kScopeNames) {
    if (!(scopes & b)) continue;
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

}  // namespace mlgate
