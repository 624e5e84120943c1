// cli_predict.cpp: see cli_predict.hpp.
#include "cli_predict.hpp"

#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "sentiment.hpp"
#include "usage_error.hpp"

namespace mlgate {
namespace {

struct PredictOptions {
  std::string model = "sentiment";
  std::optional<std::string> lexicon;
  std::vector<std::string> texts;
  bool help = false;
};

constexpr const char* kUsage =
    "usage: mlgate predict [--model sentiment] [--lexicon FILE] [--text T]...\n"
    "  Scores each line of standard input (or each --text) and prints one JSON line per text.\n";


// Accepts "--name value" and "--name=value".
PredictOptions parse_options(const std::vector<std::string>& args) {
  PredictOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    bool has_value = false;
    if (const auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = name.substr(eq + 1), name = name.substr(0, eq), has_value = true;
    }
    if (name == "--help" || name == "-h") {
      o.help = true;
      continue;
    }
    if (name != "--model" && name != "--lexicon" && name != "--text")
      throw UsageError("unknown option '" + name + "'");
    if (!has_value) {
      if (i + 1 >= args.size()) throw UsageError("option " + name + " needs a value");
      value = args[++i];
    }
    if (name == "--model") o.model = value;
    else if (name == "--lexicon") o.lexicon = value;
    else o.texts.push_back(value);
  }
  if (o.model != "sentiment") throw UsageError("unknown model '" + o.model + "' (available: sentiment)");
  return o;
}

// One output line. The JSON object is built once and only its numbers and label change per
// text (no allocation per line); ordered_json keeps the documented key order. nlohmann prints a
// double as the shortest text that reads back to the same value, so the rounded 0.4404 prints
// as 0.4404, and 1.0 as 1.0, as Python's json does.
class PredictionWriter {
 public:
  PredictionWriter() {
    json_["label"] = "neutral";
    json_["score"] = 0.0;
    json_["result"] = {{"neg", 0.0}, {"neu", 0.0}, {"pos", 0.0}, {"compound", 0.0}};
  }
  void write(const SentimentScores& s, std::ostream& out) {
    json_["label"] = SentimentModel::label(s.compound);
    json_["score"] = s.compound;
    auto& result = json_["result"];
    result["neg"] = s.neg;
    result["neu"] = s.neu;
    result["pos"] = s.pos;
    result["compound"] = s.compound;
    out << json_ << '\n';
  }

 private:
  nlohmann::ordered_json json_;
};

int score_all(const SentimentModel& model, const PredictOptions& o, std::istream& in, std::ostream& out) {
  PredictionWriter writer;
  if (!o.texts.empty()) {
    for (const auto& t : o.texts) writer.write(model.score(t), out);
  } else {
    std::string line;  // reused: no allocation per line once warm
    while (std::getline(in, line)) {
      std::string_view text = line;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      writer.write(model.score(text), out);
    }
  }
  out.flush();
  return out ? 0 : 1;
}

}  // namespace

int run_predict(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
  PredictOptions options;
  try {
    options = parse_options(args);
  } catch (const UsageError& e) {
    err << "mlgate predict: " << e.what() << " (see mlgate predict --help)\n";
    return 2;
  }
  if (options.help) {
    out << kUsage;
    return 0;
  }
  std::optional<SentimentModel> custom;
  try {
    if (options.lexicon) custom.emplace(SentimentModel::from_lexicon_file(*options.lexicon));
  } catch (const std::exception& e) {
    err << "mlgate predict: " << e.what() << "\n";
    return 1;
  }
  if (&in == &std::cin) {
    // Millions of lines should be I/O bound: no C stdio sync, no flush of cout per read.
    std::ios::sync_with_stdio(false);
    std::cin.tie(nullptr);
  }
  const SentimentModel& model = custom ? *custom : SentimentModel::builtin();
  if (score_all(model, options, in, out) != 0) {
    err << "mlgate predict: cannot write the output\n";
    return 1;
  }
  return 0;
}

}  // namespace mlgate
