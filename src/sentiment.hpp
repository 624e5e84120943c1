// sentiment.hpp: the built-in `sentiment` model, VADER (Hutto & Gilbert, ICWSM 2014) computed
// the way the reference implementation, vaderSentiment 3.3.2, computes it: same tokens, same
// rules and quirks, same floating-point operations in the same order, same rounding. The rules
// are described in ../shared/VADER_NOTES.md; the lexicon and emoji names are embedded.
//
// Contract:
// - A SentimentModel is immutable once constructed. score() is thread-safe: one instance is
//   shared read-only by every worker (per-thread scratch buffers, no locks).
// - score() accepts any bytes and never throws on content: invalid UTF-8 reads as U+FFFD (one
//   per maximal invalid subpart, as Python's errors="replace"), NUL and control characters are
//   ordinary characters, time and memory are linear in the length of the text.
// - The scores are rounded as the reference rounds them: neg/neu/pos to 3 places, compound to
//   4, Python's round() (ties to even on the exact binary value). Empty text scores all zero.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace mlgate {

struct SentimentScores {
  double neg = 0.0, neu = 0.0, pos = 0.0, compound = 0.0;
};

class SentimentModel {
 public:
  // The embedded lexicon and emoji table, built on first use (thread-safe) and kept for the
  // life of the program.
  static const SentimentModel& builtin();

  // The embedded emoji table with the word lexicon read from `path` (`--lexicon FILE`): lines
  // token<TAB>valence[<TAB>anything], a later line winning for a repeated token. Throws
  // std::runtime_error with a one-line message naming the file (and line) when it cannot be
  // read, is not UTF-8, has a malformed line or has no entries.
  static SentimentModel from_lexicon_file(const std::string& path);

  // Same from the text of such a file; `origin` names it in error messages.
  static SentimentModel from_lexicon_text(std::string_view tsv, std::string_view origin);

  SentimentScores score(std::string_view utf8_text) const;

  // "positive" when compound >= 0.05, "negative" when compound <= -0.05, else "neutral".
  static std::string_view label(double compound);

  SentimentModel(SentimentModel&&) noexcept;
  SentimentModel& operator=(SentimentModel&&) noexcept;
  ~SentimentModel();

  struct Tables;  // the word and emoji tables (sentiment.cpp)

 private:
  explicit SentimentModel(std::unique_ptr<const Tables> tables);
  std::unique_ptr<const Tables> tables_;
};

}  // namespace mlgate
