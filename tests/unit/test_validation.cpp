// Unit tests for validation.hpp: every rule of `text` at both boundaries,
// code points (not bytes), hostile byte sequences, the body shapes of
// POST /predict and the FastAPI-shaped 422 body.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "validation.hpp"

using namespace mlgate;
using json = nlohmann::json;

namespace {

std::string repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += unit;
  return s;
}

// The error type of validate_text(s), or "" when the text is valid.
std::string verdict(std::string_view s) {
  auto e = validate_text(s);
  return e ? e->type : "";
}

constexpr const char* kMin = "value_error.any_str.min_length";
constexpr const char* kMax = "value_error.any_str.max_length";
constexpr const char* kUnicode = "value_error.unicode";

}  // namespace

TEST_CASE("text length: 9 code points are too few, 10 are enough") {
  CHECK(verdict("abcdefghi") == kMin);
  CHECK(verdict("abcdefghij").empty());
}

TEST_CASE("text length: 5000 code points are allowed, 5001 are too many") {
  CHECK(verdict(repeat("a", 5000)).empty());
  CHECK(verdict(repeat("a", 5001)) == kMax);
}

TEST_CASE("multi-byte characters count as one code point each, at both boundaries") {
  // 2-, 3- and 4-byte letters: 9 of them are more than 10 bytes but still too few.
  for (std::string_view ch : {"\xc3\xa9" /* é */, "\xe4\xb8\xad" /* 中 */,
                              "\xf0\x9d\x90\x80" /* U+1D400 MATHEMATICAL BOLD A */}) {
    CAPTURE(ch);
    CHECK(verdict(repeat(ch, 9)) == kMin);
    CHECK(verdict(repeat(ch, 10)).empty());
    CHECK(verdict(repeat(ch, 5000)).empty());
    CHECK(verdict(repeat(ch, 5001)) == kMax);
  }
}

TEST_CASE("the error messages and loc of each length rule") {
  auto e = validate_text("short");
  REQUIRE(e);
  CHECK(e->loc == "text");
  CHECK(e->msg == "ensure this value has at least 10 characters");
  e = validate_text(repeat("a", 5001));
  REQUIRE(e);
  CHECK(e->loc == "text");
  CHECK(e->msg == "ensure this value has at most 5000 characters");
}

TEST_CASE("whitespace-only text is refused even when long enough") {
  auto e = validate_text(std::string(20, ' '));
  REQUIRE(e);
  CHECK(e->type == "value_error");
  CHECK(e->msg == "Text must contain at least 10 non-whitespace characters");
  CHECK(validate_text("\t\n\r\v\f          ").has_value());
  // Unicode spaces (Python's str.isspace): NBSP, EM SPACE, IDEOGRAPHIC SPACE, NEL.
  CHECK(verdict(repeat("\xc2\xa0", 12)) == "value_error");
  CHECK(verdict(repeat("\xe2\x80\x83", 12)) == "value_error");
  CHECK(verdict(repeat("\xe3\x80\x80", 12)) == "value_error");
  CHECK(verdict(repeat("\xc2\x85", 12)) == "value_error");
}

TEST_CASE("at least 10 non-whitespace code points: 9 are refused, 10 pass") {
  CHECK(verdict("a b c d e f g h i") == "value_error");
  CHECK(verdict("a b c d e f g h i j").empty());
  CHECK(verdict("abcdefghi\xe3\x80\x80\xe3\x80\x80") == "value_error");  // 9 + 2 ideographic spaces
  CHECK(verdict("abcdefghij\xe3\x80\x80").empty());
  // ZERO WIDTH SPACE is not whitespace for Python's isspace: it counts.
  CHECK(verdict("abcdefghi\xe2\x80\x8b").empty());
}

TEST_CASE("text without any letter or digit is refused") {
  auto e = validate_text("!!!!!!!!!!!!");
  REQUIRE(e);
  CHECK(e->type == "value_error");
  CHECK(e->msg == "Text must contain alphanumeric characters");
  CHECK(verdict(repeat("\xf0\x9f\x98\x80", 10)) == "value_error");  // ten emoji
  CHECK(verdict("!!!!!!!!!!1").empty());                              // one ASCII digit is enough
  CHECK(verdict("!!!!!!!!!!z").empty());
}

TEST_CASE("letters and digits of other scripts count as alphanumeric") {
  CHECK(verdict("\xd9\xa1\xd9\xa2\xd9\xa3!!!!!!!!!").empty());  // Arabic-Indic digits
  CHECK(verdict("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e!!!!!!!").empty());  // 日本語
  CHECK(verdict("\xd0\x96!!!!!!!!!!").empty());  // Cyrillic Zhe
}

TEST_CASE("invalid UTF-8 is a validation error, never a crash") {
  const std::string_view cases[] = {
      "\xff",                  // never valid
      "\x80",                  // continuation byte without a lead
      "\xc3" "A",              // lead byte followed by ASCII
      "\xc0\xaf",              // overlong '/', 2 bytes
      "\xc1\xbf",              // overlong, 2 bytes
      "\xe0\x80\xaf",          // overlong '/', 3 bytes
      "\xe0\x9f\xbf",          // overlong U+07FF, 3 bytes
      "\xf0\x80\x80\xaf",      // overlong '/', 4 bytes
      "\xf0\x8f\xbf\xbf",      // overlong U+FFFF, 4 bytes
      "\xed\xa0\x80",          // U+D800, a high surrogate
      "\xed\xbf\xbf",          // U+DFFF, a low surrogate
      "\xed\xa0\xbd\xed\xb8\x80",  // CESU-8 surrogate pair
      "\xf4\x90\x80\x80",      // U+110000, past the last code point
      "\xf5\x80\x80\x80",      // lead byte above F4
      "\xf8\x88\x80\x80\x80",  // 5-byte form
      "\xfc\x84\x80\x80\x80\x80",  // 6-byte form
  };
  for (std::string_view bad : cases) {
    std::string text = "abcdefghijkl" + std::string(bad) + "mnop";
    CAPTURE(text);
    auto e = validate_text(text);
    REQUIRE(e);
    CHECK(e->type == kUnicode);
    CHECK(e->loc == "text");
  }
}

TEST_CASE("truncated multi-byte sequences at the end of the text are invalid") {
  for (std::string_view tail : {"\xc3", "\xe2\x82", "\xe2", "\xf0\x9f\x98", "\xf0\x9f", "\xf0"}) {
    std::string text = "abcdefghijkl" + std::string(tail);
    CAPTURE(text);
    CHECK(verdict(text) == kUnicode);
  }
}

TEST_CASE("invalid UTF-8 is reported even when the text is also too short") {
  CHECK(verdict("ab\xff") == kUnicode);
}

TEST_CASE("the encoding boundaries themselves are valid") {
  for (std::string_view ok : {"\xc2\x80" /* U+0080 */, "\xdf\xbf" /* U+07FF */,
                              "\xe0\xa0\x80" /* U+0800 */, "\xed\x9f\xbf" /* U+D7FF */,
                              "\xee\x80\x80" /* U+E000 */, "\xef\xbf\xbf" /* U+FFFF */,
                              "\xf0\x90\x80\x80" /* U+10000 */, "\xf4\x8f\xbf\xbf" /* U+10FFFF */}) {
    std::string text = "abcdefghij" + std::string(ok);
    CAPTURE(text);
    CHECK(verdict(text).empty());
  }
}

TEST_CASE("next_code_point decodes each form and advances by its length") {
  std::string_view s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  size_t i = 0;
  char32_t cp = 0;
  REQUIRE(next_code_point(s, i, cp));
  CHECK(cp == U'a');
  CHECK(i == 1);
  REQUIRE(next_code_point(s, i, cp));
  CHECK(cp == U'\u00e9');
  CHECK(i == 3);
  REQUIRE(next_code_point(s, i, cp));
  CHECK(cp == U'\u20ac');
  CHECK(i == 6);
  REQUIRE(next_code_point(s, i, cp));
  CHECK(cp == U'\U0001F600');
  CHECK(i == 10);
}

TEST_CASE("a NUL anywhere in the text is refused") {
  using namespace std::string_view_literals;
  for (std::string_view t : {"abcdefghij\0klm"sv, "\0abcdefghijk"sv, "abcdefghijk\0"sv}) {
    auto e = validate_text(t);
    REQUIRE(e);
    CHECK(e->type == "value_error");
    CHECK(e->msg == "Text must not contain NUL characters");
  }
}

TEST_CASE("parse_predict_body: a valid body sets the text and ignores unknown fields") {
  std::string text;
  auto e = parse_predict_body(R"({"text": "A perfectly fine text", "model": "x", "n": [1]})", text);
  CHECK_FALSE(e);
  CHECK(text == "A perfectly fine text");
}

TEST_CASE("parse_predict_body: JSON escapes are decoded before counting") {
  std::string text;
  // Ten é written as \u00e9: 60 bytes of JSON, ten code points.
  CHECK_FALSE(parse_predict_body(R"({"text": ")" + repeat("\\u00e9", 10) + "\"}", text));
  CHECK(text == repeat("\xc3\xa9", 10));
  // A surrogate pair escape is one code point.
  CHECK_FALSE(parse_predict_body(R"({"text": "abcdefghi\ud83d\ude00"})", text));
}

TEST_CASE("parse_predict_body: malformed JSON is a jsondecode error on the body") {
  std::string text;
  for (std::string_view body : {"", "{", "{not json", R"({"text": "abcdefghijk"} trailing)",
                                R"({"text": "abcdefghi\ud800"})" /* lone surrogate escape */,
                                "{\"text\": \"abcdefghij\xff\"}"}) {
    CAPTURE(body);
    auto e = parse_predict_body(body, text);
    REQUIRE(e);
    CHECK(e->loc == "");
    CHECK(e->type == "value_error.jsondecode");
  }
}

TEST_CASE("parse_predict_body: a body that is not an object is a type_error.dict") {
  std::string text;
  for (std::string_view body : {"[]", R"(["abcdefghijkl"])", R"("abcdefghijkl")", "42", "null", "true"}) {
    CAPTURE(body);
    auto e = parse_predict_body(body, text);
    REQUIRE(e);
    CHECK(e->loc == "");
    CHECK(e->type == "type_error.dict");
  }
}

TEST_CASE("parse_predict_body: a missing text is value_error.missing") {
  std::string text;
  for (std::string_view body : {"{}", R"({"txt": "abcdefghijkl"})", R"({"Text": "abcdefghijkl"})"}) {
    CAPTURE(body);
    auto e = parse_predict_body(body, text);
    REQUIRE(e);
    CHECK(e->loc == "text");
    CHECK(e->type == "value_error.missing");
  }
}

TEST_CASE("parse_predict_body: a text that is not a string is type_error.str") {
  std::string text;
  for (std::string_view body : {R"({"text": 12345678901})", R"({"text": null})", R"({"text": true})",
                                R"({"text": ["abcdefghijkl"]})", R"({"text": {"a": 1}})"}) {
    CAPTURE(body);
    auto e = parse_predict_body(body, text);
    REQUIRE(e);
    CHECK(e->loc == "text");
    CHECK(e->type == "type_error.str");
  }
}

TEST_CASE("parse_predict_body: the text rules apply to the decoded string") {
  std::string text;
  auto e = parse_predict_body(R"({"text": "abcdefghij\u0000kl"})", text);
  REQUIRE(e);
  CHECK(e->msg == "Text must not contain NUL characters");
  e = parse_predict_body(R"({"text": "short"})", text);
  REQUIRE(e);
  CHECK(e->type == kMin);
}

TEST_CASE("validation_body has FastAPI's shape, with loc under body") {
  json b = validation_body({"text", "ensure this value has at least 10 characters",
                            "value_error.any_str.min_length"});
  CHECK(b == json::parse(R"({"detail": [{"loc": ["body", "text"],
                                         "msg": "ensure this value has at least 10 characters",
                                         "type": "value_error.any_str.min_length"}]})"));
}

TEST_CASE("validation_body of an error on the whole body has loc [\"body\"]") {
  json b = validation_body({"", "Request body is not valid JSON", "value_error.jsondecode"});
  REQUIRE(b["detail"].is_array());
  REQUIRE(b["detail"].size() == 1);
  CHECK(b["detail"][0]["loc"] == json{"body"});
}
