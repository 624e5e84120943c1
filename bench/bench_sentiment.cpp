// bench_sentiment.cpp: throughput of the built-in VADER model on one core.
//   - sentences per second over each of the paper's four ground-truth sets and over all four
//     (items/s); the target is 1,000,000/s, 50 times the reference Python's ~20,000/s;
//   - 5000-character texts (the API's largest input) per second.
// Before the benchmarks it prints, per set, the Pearson r of the compound score with the human
// ratings (the reference's: tweets 0.872, movie 0.428, amazon 0.590, nyt 0.503).
// The sets are read from MLGATE_SHARED_DIR; without them those benchmarks report an error.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "sentiment.hpp"

namespace {

const char* const kSets[] = {"tweets", "movieReviewSnippets", "amazonReviewSnippets", "nytEditorialSnippets"};

struct GroundTruth {
  std::vector<std::string> texts;
  std::vector<double> ratings;
};

// id<TAB>mean rating<TAB>text, CRLF.
GroundTruth load(const std::string& set) {
  GroundTruth gt;
  std::ifstream in(std::string(MLGATE_SHARED_DIR) + "/data/vader_icwsm2014/" + set + "_GroundTruth.txt");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    if (t1 == std::string::npos || t2 == std::string::npos) continue;
    gt.ratings.push_back(std::stod(line.substr(t1 + 1, t2 - t1 - 1)));
    gt.texts.push_back(line.substr(t2 + 1));
  }
  return gt;
}

const GroundTruth& set_data(int i) {
  static const std::vector<GroundTruth> sets = [] {
    std::vector<GroundTruth> s;
    for (const char* name : kSets) s.push_back(load(name));
    return s;
  }();
  return sets[static_cast<std::size_t>(i)];
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(x.size()), my /= static_cast<double>(y.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx), syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

void print_correlations() {
  const auto& model = mlgate::SentimentModel::builtin();
  for (int i = 0; i < 4; ++i) {
    const GroundTruth& gt = set_data(i);
    if (gt.texts.empty()) continue;
    std::vector<double> compound;
    for (const auto& t : gt.texts) compound.push_back(model.score(t).compound);
    std::printf("Pearson r, compound vs human mean, %-22s n = %5zu  r = %.3f\n", kSets[i], gt.texts.size(),
                pearson(compound, gt.ratings));
  }
}

void score_all(benchmark::State& state, const std::vector<const std::string*>& texts) {
  const auto& model = mlgate::SentimentModel::builtin();
  if (texts.empty()) {
    state.SkipWithError("ground-truth sets not found under MLGATE_SHARED_DIR");
    return;
  }
  std::size_t bytes = 0;
  for (const auto* t : texts) bytes += t->size();
  for (auto _ : state) {
    for (const auto* t : texts) benchmark::DoNotOptimize(model.score(*t));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(texts.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

// Sentences per second over one set (arg 0..3) or over all four (arg 4).
void BM_Sentences(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  std::vector<const std::string*> texts;
  for (int i = 0; i < 4; ++i)
    if (which == 4 || which == i)
      for (const auto& t : set_data(i).texts) texts.push_back(&t);
  state.SetLabel(which == 4 ? "all four sets" : kSets[which]);
  score_all(state, texts);
}
BENCHMARK(BM_Sentences)->DenseRange(0, 4)->Unit(benchmark::kMillisecond);

// 5000-character texts: the movie reviews run together, cut at a space near 5000 characters.
void BM_Text5000(benchmark::State& state) {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    std::string cur;
    for (const auto& t : set_data(1).texts) {
      if (cur.size() + t.size() + 1 > 5000) {
        cur.append(5000 - cur.size(), ' ');
        out.push_back(cur);
        cur.clear();
      }
      cur += t;
      cur += ' ';
    }
    return out;
  }();
  std::vector<const std::string*> ptrs;
  for (const auto& t : texts) ptrs.push_back(&t);
  state.SetLabel(std::to_string(texts.size()) + " texts of 5000 bytes");
  score_all(state, ptrs);
}
BENCHMARK(BM_Text5000)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  print_correlations();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
