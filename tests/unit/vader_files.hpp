// vader_files.hpp: reading the tab-separated files the VADER tests compare
// against (the probes in tests/data, the evaluation data in ../shared).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sentiment.hpp"

namespace mlgate::testutil {

inline std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char c : line) {
    if (c == '\t')
      fields.emplace_back();
    else
      fields.back() += c;
  }
  return fields;
}

// Lines of a file without their LF or CRLF ending.
inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot open " << path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// The reference's scores as written (Python's repr of a rounded float) parse to exactly the
// double the reference held, so equality below is exact equality after rounding.
inline double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

inline bool same(const SentimentScores& a, const SentimentScores& b) {
  return a.neg == b.neg && a.neu == b.neu && a.pos == b.pos && a.compound == b.compound;
}

inline std::string show(const SentimentScores& s) {
  std::ostringstream out;
  out << "{neg " << s.neg << ", neu " << s.neu << ", pos " << s.pos << ", compound " << s.compound << "}";
  return out.str();
}

}  // namespace mlgate::testutil
