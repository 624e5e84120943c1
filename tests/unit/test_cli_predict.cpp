// test_cli_predict.cpp: `mlgate predict` through run_predict, with string streams for stdin,
// stdout and stderr.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_predict.hpp"

namespace {

struct Run {
  int status;
  std::string out, err;
};

Run predict(const std::vector<std::string>& args, const std::string& input = "") {
  std::istringstream in(input);
  std::ostringstream out, err;
  const int status = mlgate::run_predict(args, in, out, err);
  return {status, out.str(), err.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("predict writes one JSON line per input line, an empty line included") {
  const Run r = predict({}, "The movie was good\r\n\nThe movie was bad\n");
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        R"({"label":"positive","score":0.4404,"result":{"neg":0.0,"neu":0.508,"pos":0.492,"compound":0.4404}})");
  CHECK(lines[1] == R"({"label":"neutral","score":0.0,"result":{"neg":0.0,"neu":0.0,"pos":0.0,"compound":0.0}})");
  const auto bad = nlohmann::json::parse(lines[2]);
  CHECK(bad["label"] == "negative");
  CHECK(bad["score"] == bad["result"]["compound"]);
}

TEST_CASE("predict --text scores the given texts and ignores stdin") {
  const Run r = predict({"--model", "sentiment", "--text", "The movie was good", "--text=bad"}, "ignored\n");
  CHECK(r.status == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["score"] == 0.4404);
  CHECK(nlohmann::json::parse(lines[1])["label"] == "negative");
}

TEST_CASE("predict with no input writes nothing and succeeds") {
  const Run r = predict({}, "");
  CHECK(r.status == 0);
  CHECK(r.out.empty());
}

TEST_CASE("predict usage errors exit 2 with one line on stderr") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--bogus"}, {"--model", "gpt"}, {"--model=llama"}, {"--text"}, {"--lexicon"}}) {
    const Run r = predict(args, "good\n");
    CAPTURE(args[0]);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(lines_of(r.err).size() == 1);
  }
}

TEST_CASE("predict with an unreadable lexicon exits 1 with one line on stderr") {
  const Run r = predict({"--lexicon", "/nonexistent/lexicon.tsv"}, "good\n");
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  REQUIRE(lines_of(r.err).size() == 1);
  CHECK(r.err.find("/nonexistent/lexicon.tsv") != std::string::npos);
}

TEST_CASE("predict --lexicon scores with the given words") {
  const auto path = std::filesystem::temp_directory_path() / "mlgate_cli_predict_lexicon.tsv";
  std::ofstream(path) << "wunderbar\t3.0\n";
  const Run r = predict({"--lexicon", path.string()}, "wunderbar\ngood\n");
  std::filesystem::remove(path);
  CHECK(r.status == 0);
  const auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["label"] == "positive");
  CHECK(nlohmann::json::parse(lines[1])["label"] == "neutral");
}
