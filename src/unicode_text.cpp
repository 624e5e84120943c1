// unicode_text.cpp: see unicode_text.hpp. The tables are generated (unicode_tables.inc); this
// file only searches them. It is off the hot path: the sentiment model handles ASCII itself.
#include "unicode_text.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

namespace mlgate::unicode {
namespace {

struct Range {
  char32_t first, last;
};
struct LowerRun {
  char32_t first, last;
  std::int32_t delta;
  std::uint8_t stride;
};
struct SpecialLower {
  char32_t cp;
  char32_t lower[2];
};

#include "unicode_tables.inc"

template <std::size_t N>
bool in(const Range (&table)[N], char32_t cp) {
  // First range whose end is not below cp; cp is in the table iff that range starts at or
  // before it.
  auto it = std::lower_bound(std::begin(table), std::end(table), cp,
                             [](const Range& r, char32_t c) { return r.last < c; });
  return it != std::end(table) && it->first <= cp;
}

char32_t simple_lower(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  auto it = std::lower_bound(std::begin(kLowerRuns), std::end(kLowerRuns), cp,
                             [](const LowerRun& r, char32_t c) { return r.last < c; });
  if (it == std::end(kLowerRuns) || it->first > cp || (cp - it->first) % it->stride != 0) return cp;
  return static_cast<char32_t>(static_cast<std::int32_t>(cp) + it->delta);
}

bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// Final_Sigma (Unicode 3.13, as CPython applies it): a capital sigma preceded by a cased
// letter and not followed by one, case-ignorable characters skipped on both sides.
bool final_sigma(const std::vector<char32_t>& cps, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && in(kCaseIgnorable, cps[j - 1])) --j;
  if (j == 0 || !in(kCased, cps[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < cps.size() && in(kCaseIgnorable, cps[k])) ++k;
  return k == cps.size() || !in(kCased, cps[k]);
}

}  // namespace

char32_t decode(const char*& p, const char* end) {
  const auto b0 = static_cast<unsigned char>(*p++);
  if (b0 < 0x80) return b0;
  int need;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return kReplacement;
  }
  for (int k = 0; k < need; ++k) {
    if (p == end) return kReplacement;
    const auto b = static_cast<unsigned char>(*p);
    if (k == 0 ? (b < lo || b > hi) : !is_cont(b)) return kReplacement;
    cp = (cp << 6) | (b & 0x3F);
    ++p;
  }
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_space(char32_t cp) { return in(kSpace, cp); }

void append_lower(std::string_view utf8, std::string& out) {
  // Decoded first because the final-sigma rule looks at both neighbours.
  thread_local std::vector<char32_t> cps;
  cps.clear();
  for (const char *p = utf8.data(), *end = p + utf8.size(); p < end;) cps.push_back(decode(p, end));
  for (std::size_t i = 0; i < cps.size(); ++i) {
    const char32_t cp = cps[i];
    if (cp == 0x3A3) {
      append_utf8(out, final_sigma(cps, i) ? 0x3C2 : 0x3C3);
      continue;
    }
    auto special = std::find_if(std::begin(kSpecialLower), std::end(kSpecialLower),
                                [cp](const SpecialLower& s) { return s.cp == cp; });
    if (special != std::end(kSpecialLower)) {
      for (char32_t c : special->lower) append_utf8(out, c);
      continue;
    }
    append_utf8(out, simple_lower(cp));
  }
  if (cps.capacity() > (1u << 16)) std::vector<char32_t>().swap(cps);  // do not pin a huge buffer
}

bool is_upper(std::string_view utf8) {
  bool cased = false;
  for (const char *p = utf8.data(), *end = p + utf8.size(); p < end;) {
    const char32_t cp = decode(p, end);
    if (in(kLowercase, cp) || in(kTitlecase, cp)) return false;
    if (!cased && in(kUppercase, cp)) cased = true;
  }
  return cased;
}

std::size_t code_points(std::string_view utf8) {
  std::size_t n = 0;
  for (const char *p = utf8.data(), *end = p + utf8.size(); p < end; ++n) decode(p, end);
  return n;
}

}  // namespace mlgate::unicode
