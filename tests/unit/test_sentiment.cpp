// test_sentiment.cpp: the built-in VADER model against the reference implementation
// (vaderSentiment 3.3.2): every rule probe (tests/data), the embedded data, and the inputs a
// server sees that a sentiment corpus does not (huge, binary, control characters). The checks
// against the evaluation data in ../shared are in test_vader_reference.cpp.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "embedded_data.hpp"
#include "sentiment.hpp"
#include "sentiment_tables.hpp"
#include "unicode_text.hpp"
#include "vader_files.hpp"

using mlgate::SentimentModel;
using mlgate::SentimentScores;

namespace {

using mlgate::testutil::num;
using mlgate::testutil::read_lines;
using mlgate::testutil::same;
using mlgate::testutil::show;
using mlgate::testutil::split_tabs;

const SentimentModel& model() { return SentimentModel::builtin(); }
SentimentScores score(std::string_view text) { return model().score(text); }

// The reference's "but" quirk spelled out as the Python does it, list.index() and all.
std::vector<double> python_but(std::vector<double> v, std::size_t but) {
  for (std::size_t k = 0; k < v.size(); ++k) {
    const double x = v[k];
    std::size_t si = 0;
    while (!(v[si] == x)) ++si;
    if (si < but) v[si] = x * 0.5;
    else if (si > but) v[si] = x * 1.5;
  }
  return v;
}

}  // namespace

TEST_CASE("every rule probe scores exactly as the reference implementation") {
  const auto lines = read_lines(std::string(MLGATE_TESTS_DIR) + "/data/vader_probes.tsv");
  REQUIRE(lines.size() > 1);
  REQUIRE(split_tabs(lines[0]) == std::vector<std::string>{"id", "text", "neg", "neu", "pos", "compound"});
  int rows = 0, mismatches = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = split_tabs(lines[i]);
    REQUIRE(f.size() == 6);
    const SentimentScores want{num(f[2]), num(f[3]), num(f[4]), num(f[5])};
    const SentimentScores got = score(f[1]);
    ++rows;
    const bool ok = same(got, want) && SentimentModel::label(got.compound) == SentimentModel::label(want.compound);
    if (!ok && ++mismatches <= 20)
      MESSAGE("probe " << f[0] << " \"" << f[1].substr(0, 120) << "\": got " << show(got) << ", want " << show(want));
  }
  MESSAGE("probes: " << rows - mismatches << " of " << rows << " match");
  CHECK(rows == 1663);
  CHECK(mismatches == 0);
}

TEST_CASE("the embedded lexicon holds the reference 3.3.2 lexicon's entries") {
  const auto ours = mlgate::vader::parse_lexicon(
      mlgate::embedded::as_text(mlgate::embedded::vader_lexicon_tsv, mlgate::embedded::vader_lexicon_tsv_size),
      "embedded");
  CHECK(ours.size() == 7506);
  CHECK(ours.at("heart") == 3.2);
  CHECK(ours.at("hearts") == 3.3);
  CHECK(ours.at("flawed") == -2.1);
  CHECK(ours.at("badass") == 1.4);
  CHECK(ours.at("lol") == 1.8);  // the later of two lines wins
  CHECK(ours.at("ok") == 1.2);
}

TEST_CASE("the embedded emoji names have one name per code point") {
  const auto names = mlgate::vader::parse_emoji_names(
      mlgate::embedded::as_text(mlgate::embedded::emoji_names_tsv, mlgate::embedded::emoji_names_tsv_size));
  std::map<char32_t, std::string> ours(names.begin(), names.end());
  CHECK(ours.size() == names.size());
  CHECK(ours.size() == 1212);
}

TEST_CASE("an emoji table keeps the last name a repeated code point is given, as a dict would") {
  const mlgate::vader::EmojiTable table({{0x1F600, "zebra"}, {0x1F601, "b"}, {0x1F600, "apple"}});
  REQUIRE(table.find(0x1F600) != nullptr);
  CHECK(*table.find(0x1F600) == "apple");  // not the greatest name ("zebra")
  CHECK(*table.find(0x1F601) == "b");
  CHECK(table.find(0x1F602) == nullptr);
  CHECK(table.min_code_point() == 0x1F600);
}

TEST_CASE("a model with its own lexicon still reads emoji as their names") {
  const auto model = SentimentModel::from_lexicon_text("grinning\t2.0\n", "mini.tsv");
  const auto s = model.score("\xF0\x9F\x98\x80");  // U+1F600 grinning face
  CHECK(s.pos > 0.5);
  CHECK(s.compound > 0);
  // And the built-in model, whose table it shares, is unaffected.
  CHECK(SentimentModel::builtin().score("\xF0\x9F\x98\x80").compound > 0);
}

TEST_CASE("labels follow the compound thresholds") {
  CHECK(SentimentModel::label(0.05) == "positive");
  CHECK(SentimentModel::label(0.0499) == "neutral");
  CHECK(SentimentModel::label(0.0) == "neutral");
  CHECK(SentimentModel::label(-0.0499) == "neutral");
  CHECK(SentimentModel::label(-0.05) == "negative");
}

TEST_CASE("empty and blank texts score zero") {
  for (std::string_view text : {"", " ", "\t\r\n", "\xC2\xA0\xE3\x80\x80"}) {
    CAPTURE(text);
    CHECK(same(score(text), SentimentScores{0, 0, 0, 0}));
  }
}

TEST_CASE("the but rule keeps the reference's ordering quirk on short and long inputs") {
  std::vector<double> v{2, 1, 0, 3};
  mlgate::vader::apply_but_rule(v, 2);
  CHECK(v == std::vector<double>{0.5, 1, 0, 4.5});
  // Both code paths (a scan when few valences are non-zero, an index by value when many are)
  // must agree with the literal algorithm, on repeated values (where the quirk shows), signed
  // zeros, and a subnormal that halves to zero.
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, 7);
  const double values[] = {0.0, -0.0, 1.9, -2.5, 0.95, 3.8, 1.9 * 0.5, std::numeric_limits<double>::denorm_min()};
  for (std::size_t n : {5u, 300u, 1400u, 5000u}) {
    std::vector<double> in(n);
    for (double& x : in) x = values[pick(rng)];
    const std::size_t but = n / 3;
    std::vector<double> got = in;
    mlgate::vader::apply_but_rule(got, but);
    CHECK(got == python_but(in, but));
  }
}

TEST_CASE("white space is what Python's str.split() splits on, control characters included") {
  const SentimentScores plain = score("The movie was good");
  CHECK(plain.compound == 0.4404);
  // 0x1C-0x1F, NEL, NBSP, U+2003, U+3000 are white space to Python.
  CHECK(same(score("The\x1Cmovie\x1Dwas\x1Egood\x1F"), plain));
  CHECK(same(score("The\xC2\x85movie\xC2\xA0was\xE2\x80\x83good\xE3\x80\x80"), plain));
  // Other control characters and U+200B are not: they stay inside the token.
  CHECK(score("The movie was good\x07").compound == 0.0);
  CHECK(score("The movie was good\xE2\x80\x8B").compound == 0.0);
  CHECK(same(score("The movie was good \x01\x02\x03"), score("The movie was good xyz")));
}

TEST_CASE("NUL bytes are ordinary characters") {
  const std::string with_nul("The movie was good \0 ok", 23);
  CHECK(same(score(with_nul), score("The movie was good x ok")));
  CHECK(score(std::string_view("good\0", 5)).compound == 0.0);  // "good\0" is not "good"
  CHECK(same(score(std::string(1000, '\0')), SentimentScores{0, 1, 0, 0}));
}

TEST_CASE("invalid UTF-8 reads as U+FFFD and never breaks scoring") {
  // Python: b"\xe2\x82".decode("utf-8", "replace") is one U+FFFD, b"\xf0\x80" two, an encoded
  // surrogate three.
  CHECK(mlgate::unicode::code_points("\xE2\x82") == 1);
  CHECK(mlgate::unicode::code_points("\xF0\x80") == 2);
  CHECK(mlgate::unicode::code_points("\xED\xA0\x80") == 3);
  CHECK(mlgate::unicode::code_points("\xC0\xAF") == 2);  // overlong
  CHECK(same(score("The movie was good \xFF\xFE"), score("The movie was good \xEF\xBF\xBD")));
  CHECK(same(score("The movie was good \xE2\x82"), score("The movie was good x")));
  CHECK(score("\xFFgood").compound == 0.0);
  // Every byte value, in every position: the scores stay in range.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string text(static_cast<std::size_t>(byte(rng)), ' ');
    for (char& c : text) c = static_cast<char>(byte(rng));
    text += " good!";
    const SentimentScores s = score(text);
    REQUIRE(s.compound >= -1.0);
    REQUIRE(s.compound <= 1.0);
    REQUIRE(s.neg + s.neu + s.pos == doctest::Approx(1.0).epsilon(0.01));
  }
}

TEST_CASE("lower-casing and upper-case detection follow Python beyond ASCII") {
  std::string out;
  mlgate::unicode::append_lower("\xE2\x84\xAAISS", out);  // KELVIN SIGN lower-cases to "k"
  CHECK(out == "kiss");
  CHECK(same(score("\xE2\x84\xAAiss me"), score("kiss me")));
  out.clear();
  mlgate::unicode::append_lower("\xCE\xA3\xCE\x91\xCE\xA3 \xCE\xA3", out);  // "ΣΑΣ Σ" -> "σας σ"
  CHECK(out == "\xCF\x83\xCE\xB1\xCF\x82 \xCF\x83");
  out.clear();
  mlgate::unicode::append_lower("\xC4\xB0", out);  // "İ" -> "i̇"
  CHECK(out == "i\xCC\x87");
  CHECK(mlgate::unicode::is_upper("\xC3\x89T\xC3\x89"));          // "ÉTÉ"
  CHECK_FALSE(mlgate::unicode::is_upper("\xC7\x85"));             // "ǅ" is title case
  CHECK(mlgate::unicode::is_upper("\xE2\x92\xB6"));               // "Ⓐ" is Other_Uppercase
  CHECK_FALSE(mlgate::unicode::is_upper("123"));
}

TEST_CASE("mixed scripts: words outside the lexicon count as neutral words") {
  const SentimentScores mixed = score("\xD0\xAD\xD1\x82\xD0\xBE \xD1\x85\xD0\xBE\xD1\x80\xD0\xBE\xD1\x88\xD0\xBE good "
                                      "\xE8\x89\xAF\xE3\x81\x84 \xD8\xAC\xD9\x8A\xD8\xAF");
  CHECK(same(mixed, score("aaa bbb good ccc ddd")));
  // An emoji is replaced by its name; a variation selector stays glued to the name's last word.
  CHECK(same(score("I \xE2\x9D\xA4 you"), score("I red heart you")));
  CHECK(same(score("I \xE2\x9D\xA4\xEF\xB8\x8F you"), score("I red xheart you")));
  CHECK(same(score("so\xF0\x9F\x98\x81"), score("so beaming face with smiling eyes")));
}

TEST_CASE("a 5000-character text of one word") {
  CHECK(same(score(std::string(5000, 'a')), SentimentScores{0, 1, 0, 0}));
  std::string goods;
  for (int i = 0; i < 1000; ++i) goods += "good ";  // 5000 characters, 1000 tokens
  CHECK(same(score(goods), SentimentScores{0, 0, 1, 1}));
  std::string caps(5000, 'A');
  CHECK(same(score(caps), SentimentScores{0, 1, 0, 0}));
}

TEST_CASE("a megabyte of one character is scored in linear time") {
  const std::size_t mb = 1 << 20;
  const auto started = std::chrono::steady_clock::now();
  CHECK(same(score(std::string(mb, 'a')), SentimentScores{0, 1, 0, 0}));
  CHECK(same(score(std::string(mb, '!')), SentimentScores{0, 1, 0, 0}));
  CHECK(same(score(std::string(mb, ' ')), SentimentScores{0, 0, 0, 0}));
  std::string smiles;
  for (std::size_t i = 0; i < mb / 4; ++i) smiles += "\xF0\x9F\x98\x80";  // grinning face
  const SentimentScores s = score(smiles);
  CHECK(s.compound == 1.0);
  CHECK(s.neg == 0.0);
  std::string eacute;
  for (std::size_t i = 0; i < mb / 2; ++i) eacute += "\xC3\x89";
  CHECK(same(score(eacute), SentimentScores{0, 1, 0, 0}));
  std::string buts;  // 300,000 tokens with a "but": the quirk's indexed path
  while (buts.size() < mb) buts += "good but bad ";
  const SentimentScores b = score(buts);
  CHECK(b.compound >= -1.0);
  CHECK(b.compound <= 1.0);
  MESSAGE("six 1 MB texts scored in "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << " s");
}

TEST_CASE("a lexicon file replaces the word lexicon") {
  const auto dir = std::filesystem::temp_directory_path() / ("mlgate_lexicon_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return (dir / name).string();
  };
  SUBCASE("non-ASCII keys match their upper-case spellings, as Python's lower() has it") {
    const auto m = SentimentModel::from_lexicon_file(
        write("ok.tsv", "sch\xC3\xB6n\t2.0\t0.5\t[2, 2]\r\n\xCE\xBA\xCE\xB1\xCE\xBB\xCF\x8C\xCF\x82\t1.5\n\nschlecht\t-2\n"));
    CHECK(m.score("SCH\xC3\x96N").compound > 0.05);
    CHECK(m.score("\xCE\x9A\xCE\x91\xCE\x9B\xCE\x8C\xCE\xA3").compound > 0.05);  // "ΚΑΛΌΣ"
    CHECK(m.score("schlecht").compound < -0.05);
    CHECK(m.score("not schlecht").compound > 0.05);  // the rules still apply
    CHECK(m.score("good").compound == 0.0);  // the built-in words are gone
  }
  SUBCASE("errors name the file and the line") {
    const auto missing = (dir / "missing.tsv").string();
    CHECK_THROWS_WITH_AS(SentimentModel::from_lexicon_file(missing),
                         doctest::Contains(missing.c_str()), std::runtime_error);
    const auto malformed = write("bad.tsv", "good\t1.0\nbad -1.0\n");
    CHECK_THROWS_WITH_AS(SentimentModel::from_lexicon_file(malformed),
                         doctest::Contains("line 2"), std::runtime_error);
    CHECK_THROWS_AS(SentimentModel::from_lexicon_file(write("nan.tsv", "good\tnan\n")), std::runtime_error);
    CHECK_THROWS_AS(SentimentModel::from_lexicon_file(write("utf.tsv", "g\xFFood\t1\n")), std::runtime_error);
    CHECK_THROWS_AS(SentimentModel::from_lexicon_file(write("empty.tsv", "\n\n")), std::runtime_error);
    // Past 1000 a text's sums can overflow (fuzz/regressions/lexicon).
    CHECK_THROWS_WITH_AS(SentimentModel::from_lexicon_file(write("huge.tsv", "good\t1e308\n")),
                         doctest::Contains("outside -1000..1000"), std::runtime_error);
    CHECK_NOTHROW(SentimentModel::from_lexicon_file(write("wide.tsv", "good\t1000\nbad\t-1000\n")));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("one model scores concurrently from many threads with the same results") {
  const auto lines = read_lines(std::string(MLGATE_TESTS_DIR) + "/data/vader_probes.tsv");
  std::vector<std::string> texts;
  for (std::size_t i = 1; i < lines.size(); ++i) texts.push_back(split_tabs(lines[i])[1]);
  std::vector<SentimentScores> expected;
  for (const auto& t : texts) expected.push_back(score(t));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < 5; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i)
          mismatches[static_cast<std::size_t>(w)] += !same(model().score(texts[i]), expected[i]);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}
