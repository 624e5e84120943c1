// validation.hpp: the rules a job's `text` must meet, and the FastAPI-shaped
// 422 body that describes a violation.
//
// Rules (DESIGN.md, the original service's rules made exact): valid UTF-8;
// no NUL; 10 to 5000 characters counted as Unicode code points; at least 10
// code points that are not whitespace (Python's str.isspace set); at least
// one letter or digit (Unicode letters and digits, as Python's isalnum for
// every script glibc's C.UTF-8 locale classifies).
//
// Contract: validate_text() reads its input once, allocates nothing, and
// never fails on any byte sequence.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace mlgate {

inline constexpr size_t kTextMinChars = 10;
inline constexpr size_t kTextMaxChars = 5000;

struct ValidationError {
  std::string loc;   // field name, e.g. "text" ("" for the body itself)
  std::string msg;   // human readable
  std::string type;  // FastAPI/pydantic error type
};

std::optional<ValidationError> validate_text(std::string_view utf8);

// Parses a POST /predict body and validates it; on success `text` is set.
// Unknown fields are ignored.
std::optional<ValidationError> parse_predict_body(std::string_view body,
                                                  std::string& text);

// {"detail": [{"loc": ["body", loc], "msg": ..., "type": ...}]}
nlohmann::json validation_body(const ValidationError& e);

// Decodes one code point at `i`, advancing it; false on an invalid or
// overlong sequence, a surrogate, or a value above U+10FFFF.
bool next_code_point(std::string_view s, size_t& i, char32_t& cp);
bool is_python_space(char32_t cp);

}  // namespace mlgate
