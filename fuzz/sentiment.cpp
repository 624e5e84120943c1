// Fuzz target: the built-in VADER model on any bytes, as a job's text
// reaches it after validation, and as `mlgate predict` reads stdin lines
// (which are not validated).
// Properties:
// - neg, neu and pos are in [0, 1] and sum to 1 within the rounding of
//   three values to 3 places (or are all 0: no tokens); compound is in
//   [-1, 1]; nothing is NaN; the label is the one the compound gives;
// - invalid UTF-8 reads as U+FFFD: the text with every maximal invalid
//   subpart replaced by U+FFFD scores exactly the same;
// - scoring is deterministic (the per-thread scratch space leaks nothing
//   from one call into the next).
// fuzz-dict: sentiment
// fuzz-max-len: 8192
#include <cmath>
#include <string>

#include "score_checks.hpp"
#include "unicode_text.hpp"

using fuzz::check_scores;
using fuzz::same;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& model = mlgate::SentimentModel::builtin();
  const std::string_view text = fuzz::as_text(data, size);
  const auto s = model.score(text);
  check_scores(s);
  const auto label = mlgate::SentimentModel::label(s.compound);
  FUZZ_CHECK(label == (s.compound >= 0.05 ? "positive" : s.compound <= -0.05 ? "negative" : "neutral"));

  std::string repaired;
  for (const char *p = text.data(), *end = p + text.size(); p < end;)
    mlgate::unicode::append_utf8(repaired, mlgate::unicode::decode(p, end));
  FUZZ_CHECK(same(model.score(repaired), s));
  // Valid UTF-8 repairs to itself: the call above was already the same text
  // scored a second time (a third call would only cost a third of the run).
  if (repaired != text) FUZZ_CHECK(same(model.score(text), s));
  return 0;
}
