#include "validation.hpp"

#include <locale.h>
#include <wctype.h>

namespace mlgate {
namespace {

// glibc's C.UTF-8 classifies every Unicode letter and digit; a locale
// object is used (not setlocale) so nothing global changes.
bool is_alnum(char32_t cp) {
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
  static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
  return utf8 && iswalnum_l(static_cast<wint_t>(cp), utf8);
}

}  // namespace

bool is_python_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 ||
         cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

bool next_code_point(std::string_view s, size_t& i, char32_t& cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    ++i;
    return true;
  }
  size_t len;
  char32_t min;
  if ((b0 & 0xe0) == 0xc0) { len = 2; cp = b0 & 0x1f; min = 0x80; }
  else if ((b0 & 0xf0) == 0xe0) { len = 3; cp = b0 & 0x0f; min = 0x800; }
  else if ((b0 & 0xf8) == 0xf0) { len = 4; cp = b0 & 0x07; min = 0x10000; }
  else return false;
  if (i + len > s.size()) return false;
  for (size_t k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xc0) != 0x80) return false;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  i += len;
  return true;
}

std::optional<ValidationError> validate_text(std::string_view s) {
  size_t chars = 0, non_space = 0;
  bool alnum = false;
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    if (!next_code_point(s, i, cp))
      return ValidationError{"text", "Text must be valid UTF-8", "value_error.unicode"};
    if (cp == 0)
      return ValidationError{"text", "Text must not contain NUL characters", "value_error"};
    ++chars;
    if (!is_python_space(cp)) {
      ++non_space;
      if (!alnum) alnum = is_alnum(cp);
    }
  }
  if (chars < kTextMinChars)
    return ValidationError{"text", "ensure this value has at least 10 characters",
                           "value_error.any_str.min_length"};
  if (chars > kTextMaxChars)
    return ValidationError{"text", "ensure this value has at most 5000 characters",
                           "value_error.any_str.max_length"};
  if (non_space < kTextMinChars)
    return ValidationError{"text", "Text must contain at least 10 non-whitespace characters",
                           "value_error"};
  if (!alnum)
    return ValidationError{"text", "Text must contain alphanumeric characters", "value_error"};
  return std::nullopt;
}

std::optional<ValidationError> parse_predict_body(std::string_view body, std::string& text) {
  // No exceptions: a hostile body is an expected input, not an error path.
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded())
    return ValidationError{"", "Request body is not valid JSON", "value_error.jsondecode"};
  if (!j.is_object())
    return ValidationError{"", "value is not a valid dict", "type_error.dict"};
  auto it = j.find("text");
  if (it == j.end())
    return ValidationError{"text", "field required", "value_error.missing"};
  if (!it->is_string())
    return ValidationError{"text", "str type expected", "type_error.str"};
  text = it->get<std::string>();
  return validate_text(text);
}

nlohmann::json validation_body(const ValidationError& e) {
  nlohmann::json loc = nlohmann::json::array({"body"});
  if (!e.loc.empty()) loc.push_back(e.loc);
  return {{"detail", nlohmann::json::array({{{"loc", loc}, {"msg", e.msg}, {"type", e.type}}})}};
}

}  // namespace mlgate
