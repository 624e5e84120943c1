// unicode_text.hpp: the few pieces of Python's str behaviour that VADER's tokenizer relies on,
// for UTF-8 text, without ICU. The reference implementation is Python, so "white space",
// "lower case" and "upper case" here mean exactly what str.split(), str.lower() and
// str.isupper() mean (Unicode data from Debian's unicode-data, see tools/gen_unicode_tables.py).
//
// Contract: every function accepts any bytes. Invalid UTF-8 is read the way Python's
// bytes.decode("utf-8", errors="replace") reads it: each maximal invalid subpart is one U+FFFD.
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mlgate::unicode {

inline constexpr char32_t kReplacement = 0xFFFD;

// Decodes the code point at p (requires p < end) and advances p past it; an invalid or
// truncated sequence yields kReplacement and is skipped as a whole (at least one byte).
char32_t decode(const char*& p, const char* end);

// Appends cp as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// str.isspace() of one code point: what str.split() and str.strip() split on.
bool is_space(char32_t cp);

// Appends str.lower() of the text (full mapping: U+0130 becomes two code points, and a capital
// sigma at the end of a word becomes a final sigma).
void append_lower(std::string_view utf8, std::string& out);

// str.isupper(): at least one cased character and none lower-case or title-case.
bool is_upper(std::string_view utf8);

// Number of code points, as Python's len() counts them after decoding.
std::size_t code_points(std::string_view utf8);

}  // namespace mlgate::unicode
