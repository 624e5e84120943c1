// Fuzz target: the lexicon loader (`--lexicon FILE`, and `mlgate predict
// --lexicon`), then scoring with what it loaded.
// Input: the lexicon file's bytes.
// Properties:
// - a file is either loaded or refused with a std::runtime_error whose
//   message is one line naming the file; nothing else is thrown;
// - with a loaded lexicon, scores keep their ranges (neg, neu, pos in
//   [0, 1] summing to ~1, compound in [-1, 1], no NaN) on texts made of
//   the lexicon's own tokens (each line's first field, so the fuzzer's
//   valences are really used) and on a few fixed sentences;
// - a later line wins for a repeated token: the lexicon's text loaded
//   twice over (the file appended to itself) scores the same.
// fuzz-dict: lexicon sentiment
// fuzz-max-len: 8192
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "score_checks.hpp"

using fuzz::check_scores;
using fuzz::same;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view tsv = fuzz::as_text(data, size);
  std::optional<mlgate::SentimentModel> model;
  try {
    model.emplace(mlgate::SentimentModel::from_lexicon_text(tsv, "fuzz.tsv"));
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    FUZZ_CHECK(msg.find("fuzz.tsv") != std::string::npos && msg.find('\n') == std::string::npos);
    return 0;
  }
  // Texts of the lexicon's own tokens, repeated and mixed with boosters,
  // negations, capitals and punctuation the rules react to.
  std::string tokens;
  for (std::string_view rest = tsv; !rest.empty();) {
    const auto [line, more] = fuzz::split(rest, '\n');
    tokens += std::string(fuzz::split(line, '\t').first) + " ";
    rest = more;
  }
  const auto twice =
      mlgate::SentimentModel::from_lexicon_text(std::string(tsv) + "\n" + std::string(tsv), "twice");
  for (const std::string& text :
       {tokens, tokens + tokens + tokens, "very " + tokens + "but not " + tokens + "!!!",
        std::string("The food was GREAT but the service was not good at all :( "),
        std::string("kind of ok, I guess?")}) {
    const auto s = model->score(text);
    check_scores(s);
    FUZZ_CHECK(same(twice.score(text), s));
  }
  return 0;
}
