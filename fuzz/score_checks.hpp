// score_checks.hpp: the properties every VADER score keeps, for the
// sentiment and lexicon fuzz targets.
#pragma once

#include <cmath>

#include "fuzz_check.hpp"
#include "sentiment.hpp"

namespace fuzz {

// neg, neu and pos in [0, 1] summing to 1 within the rounding of three
// values to 3 places (or all 0: no tokens); compound in [-1, 1]; no NaN.
inline void check_scores(const mlgate::SentimentScores& s) {
  for (double v : {s.neg, s.neu, s.pos}) FUZZ_CHECK(v >= 0.0 && v <= 1.0);
  FUZZ_CHECK(s.compound >= -1.0 && s.compound <= 1.0);
  const double sum = s.neg + s.neu + s.pos;
  FUZZ_CHECK(sum == 0.0 ? s.compound == 0.0 : std::fabs(sum - 1.0) <= 0.0015 + 1e-12);
}

inline bool same(const mlgate::SentimentScores& a, const mlgate::SentimentScores& b) {
  return a.neg == b.neg && a.neu == b.neu && a.pos == b.pos && a.compound == b.compound;
}

}  // namespace fuzz
