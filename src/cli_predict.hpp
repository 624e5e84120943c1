// cli_predict.hpp: `mlgate predict`, offline scoring from the command line.
//
//   mlgate predict [--model sentiment] [--lexicon FILE] [--text T]...
//
// Without --text, reads texts from `in`, one per line (a trailing CR is dropped, so CRLF files
// work), and writes one JSON line per input line, an empty line included, in input order:
//   {"label":"positive","score":0.4404,"result":{"neg":0.0,"neu":0.508,"pos":0.492,"compound":0.4404}}
// With --text (repeatable), scores those texts instead and does not read `in`.
//
// Returns the exit status: 0 success, 2 usage error (unknown option, missing value, unknown
// model), 1 runtime failure (unreadable or malformed lexicon, write error). Every failure
// writes exactly one line to `err`.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace mlgate {

// `args` are the arguments after "predict".
int run_predict(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace mlgate
