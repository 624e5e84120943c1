// key_store.cpp: what every KeyStore implementation shares (key_store.hpp).
#include "key_store.hpp"

#include "api_key.hpp"

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

NewKey make_new_key(const KeyCreateOptions& opt, int64_t now_ms) {
  NewKey nk;
  nk.key = generate_api_key();
  KeyRecord& r = nk.record;
  r.id = generate_key_id();
  r.name = opt.name;
  r.owner = opt.owner.empty() ? opt.name : opt.owner;
  r.tier = opt.tier;
  r.scopes = opt.scopes;
  r.created_at = now_ms;
  if (opt.expires_in_ms) r.expires_at = now_ms + *opt.expires_in_ms;
  return nk;
}

NewKey make_successor_key(const KeyRecord& old, int64_t now_ms) {
  NewKey nk;
  nk.key = generate_api_key();
  nk.record = old;
  nk.record.id = generate_key_id();
  nk.record.created_at = now_ms;
  nk.record.last_used_at.reset();
  nk.record.replaced_by.reset();
  return nk;
}

int64_t rotated_key_end(const KeyRecord& old, int64_t grace_ms, int64_t now_ms) {
  int64_t end = now_ms + grace_ms;
  if (old.expires_at && *old.expires_at < end) end = *old.expires_at;
  return end;
}

}  // namespace mlgate
