// Fuzz target: POST /predict bodies (parse_predict_body) and the text rules
// (validate_text), on any bytes.
// Properties:
// - never throws, never reads out of bounds;
// - validate_text agrees with an independent reading of the rules: the
//   bytes are well-formed UTF-8 by the Unicode table of well-formed byte
//   sequences (here, not next_code_point), no NUL, 10-5000 code points, at
//   least 10 not white space; the first violation is the one reported;
// - a body accepted by parse_predict_body is a JSON object whose "text" is
//   exactly the text returned, and that text passes validate_text; the same
//   text written back into a body is accepted again with the same text
//   (round trip);
// - every refusal renders as a FastAPI-shaped 422 body that serialises.
// fuzz-dict: json
// fuzz-max-len: 8192
#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "validation.hpp"

namespace {

// Length of the well-formed UTF-8 sequence at s[i], 0 if ill-formed
// (Unicode 15, Table 3-7), and its code point.
size_t well_formed(std::string_view s, size_t i, char32_t& cp) {
  auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100u; };
  auto in = [](unsigned v, unsigned lo, unsigned hi) { return v >= lo && v <= hi; };
  const unsigned b0 = b(0);
  if (b0 <= 0x7f) return cp = b0, 1;
  size_t n = 0;
  if (in(b0, 0xc2, 0xdf) && in(b(1), 0x80, 0xbf)) n = 2;
  else if (b0 == 0xe0 && in(b(1), 0xa0, 0xbf) && in(b(2), 0x80, 0xbf)) n = 3;
  else if ((in(b0, 0xe1, 0xec) || in(b0, 0xee, 0xef)) && in(b(1), 0x80, 0xbf) && in(b(2), 0x80, 0xbf)) n = 3;
  else if (b0 == 0xed && in(b(1), 0x80, 0x9f) && in(b(2), 0x80, 0xbf)) n = 3;
  else if (b0 == 0xf0 && in(b(1), 0x90, 0xbf) && in(b(2), 0x80, 0xbf) && in(b(3), 0x80, 0xbf)) n = 4;
  else if (in(b0, 0xf1, 0xf3) && in(b(1), 0x80, 0xbf) && in(b(2), 0x80, 0xbf) && in(b(3), 0x80, 0xbf)) n = 4;
  else if (b0 == 0xf4 && in(b(1), 0x80, 0x8f) && in(b(2), 0x80, 0xbf) && in(b(3), 0x80, 0xbf)) n = 4;
  if (n == 0) return 0;
  cp = b0 & (0xff >> (n + 1));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (b(k) & 0x3f);
  return n;
}

// The error validate_text must report first, from the rules as DESIGN.md
// states them, or "" when the text is valid. Alphanumerics are not judged
// here (that is the C library's table): "alnum?" means either answer.
std::string expected_type(std::string_view s) {
  size_t chars = 0, non_space = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t n = well_formed(s, i, cp);
    if (n == 0) return "value_error.unicode";
    if (cp == 0) return "value_error.nul";
    ++chars;
    if (!mlgate::is_python_space(cp)) ++non_space;
    i += n;
  }
  if (chars < mlgate::kTextMinChars) return "value_error.any_str.min_length";
  if (chars > mlgate::kTextMaxChars) return "value_error.any_str.max_length";
  if (non_space < mlgate::kTextMinChars) return "value_error.non_space";
  return "alnum?";
}

void check_text(std::string_view text) {
  const auto err = mlgate::validate_text(text);
  const std::string want = expected_type(text);
  if (want == "alnum?") {
    FUZZ_CHECK(!err || err->msg == "Text must contain alphanumeric characters");
  } else if (want == "value_error.nul") {
    FUZZ_CHECK(err && err->msg == "Text must not contain NUL characters");
  } else if (want == "value_error.non_space") {
    FUZZ_CHECK(err && err->msg == "Text must contain at least 10 non-whitespace characters");
  } else {
    FUZZ_CHECK(err && err->type == want);
  }
  if (err) {
    FUZZ_CHECK(err->loc == "text");
    const std::string body = mlgate::validation_body(*err).dump();
    FUZZ_CHECK(nlohmann::json::accept(body));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::as_text(data, size);
  check_text(in);

  std::string text;
  const auto err = mlgate::parse_predict_body(in, text);
  if (err) {
    FUZZ_CHECK(nlohmann::json::accept(mlgate::validation_body(*err).dump()));
    return 0;
  }
  // Accepted: the body really is an object with this text, and the text
  // passes the rules on its own.
  const auto j = nlohmann::json::parse(in, nullptr, false);
  FUZZ_CHECK(j.is_object() && j.contains("text") && j["text"].is_string());
  FUZZ_CHECK(j["text"].get<std::string>() == text);
  FUZZ_CHECK(!mlgate::validate_text(text));
  // Round trip: the text written back into a body reads back the same.
  std::string again;
  FUZZ_CHECK(!mlgate::parse_predict_body(nlohmann::json{{"text", text}}.dump(), again));
  FUZZ_CHECK(again == text);
  return 0;
}
