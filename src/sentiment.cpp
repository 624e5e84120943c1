// sentiment.cpp: VADER scoring as vaderSentiment 3.3.2 does it (see sentiment.hpp for the
// contract, ../shared/VADER_NOTES.md for the rules). The arithmetic follows the reference's
// operations in the reference's order, so that results agree to the last bit, not just closely:
// keep it that way when editing (no reassociation, no FMA: ISO C++ mode keeps -ffp-contract=off).
//
// Hot path: one pass to repair/replace emoji (skipped for ASCII text), one pass to split tokens,
// one hash look-up per token, then O(1) rules per token. Scratch space is per thread and reused,
// so a warm thread allocates nothing per call (except for texts far beyond the API's 5000
// characters: the "but" rule indexes more than 1,024 non-zero valences in a map).
#include "sentiment.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "embedded_data.hpp"
#include "sentiment_tables.hpp"
#include "unicode_text.hpp"

namespace mlgate {
namespace {

using vader::Entry;
using vader::Word;

// The reference's constants.
constexpr double kBIncr = 0.293;
constexpr double kBDecr = -0.293;
constexpr double kCIncr = 0.733;
constexpr double kNScalar = -0.74;

// What the rules need of one token, copied out of the word table so that the rules, which look
// at up to three neighbours of each token, read one small contiguous array.
struct Token {
  double valence;    // lexicon valence, when in_lexicon
  Word word;
  std::int8_t booster;
  bool in_lexicon;
  bool negator;      // in the negation list, or holds "n't"
  bool upper;        // str.isupper() of the token as written
};

struct Workspace {
  std::string text;   // the text after emoji replacement and U+FFFD repair, when it differs
  std::string lower;  // the current token, lower-cased, when that differs from the token
  std::vector<Token> tokens;
  std::vector<double> valences;
  int exclamations = 0;
  int questions = 0;

  // A huge text should not pin its buffers to the thread for good.
  void release_if_huge() {
    if (text.capacity() > (1u << 20)) std::string().swap(text);
    if (lower.capacity() > (1u << 16)) std::string().swap(lower);
    if (tokens.capacity() > (1u << 16)) std::vector<Token>().swap(tokens);
    if (valences.capacity() > (1u << 16)) std::vector<double>().swap(valences);
  }
};

// Whether the code point just decoded from [start, p) must change: an emoji to replace, or
// an invalid sequence (decoded as U+FFFD but not spelled as one).
bool needs_rewrite(char32_t cp, const char* start, const char* p, const vader::EmojiTable& emoji) {
  if (cp >= emoji.min_code_point() && emoji.find(cp)) return true;
  return cp == unicode::kReplacement && std::string_view(start, static_cast<std::size_t>(p - start)) != "\xEF\xBF\xBD";
}

// Step 1 of the reference: each code point that is an emoji is replaced by its name, preceded
// by a space unless the previous output character is one. Invalid UTF-8 becomes U+FFFD here, so
// the later passes see valid UTF-8 only. Most texts need neither: they are returned as they are.
std::string_view replace_emoji(std::string_view in, const vader::EmojiTable& emoji, std::string& out) {
  const char* const end = in.data() + in.size();
  const char* p = in.data();
  const char* first_change = end;
  const bool ascii_is_plain = emoji.min_code_point() >= 0x80;
  while (p < end && first_change == end) {
    if (ascii_is_plain) {  // skip plain ASCII eight bytes at a time: most texts are all ASCII
      std::uint64_t w;
      while (end - p >= 8 && (std::memcpy(&w, p, 8), (w & 0x8080808080808080ull) == 0)) p += 8;
      while (p < end && static_cast<unsigned char>(*p) < 0x80) ++p;
      if (p == end) break;
    }
    const char* start = p;
    const char32_t cp = static_cast<unsigned char>(*p) < 0x80 ? static_cast<unsigned char>(*p++) : unicode::decode(p, end);
    if (needs_rewrite(cp, start, p, emoji)) first_change = start;
  }
  if (first_change == end) return in;
  out.assign(in.data(), first_change);
  bool prev_space = !out.empty() ? out.back() == ' ' : true;
  for (p = first_change; p < end;) {
    const char* start = p;
    const char32_t cp = unicode::decode(p, end);
    if (const std::string* name = cp >= emoji.min_code_point() ? emoji.find(cp) : nullptr) {
      if (!prev_space) out += ' ';
      out += *name;
      prev_space = false;
      continue;
    }
    if (cp == unicode::kReplacement)
      unicode::append_utf8(out, cp);
    else
      out.append(start, static_cast<std::size_t>(p - start));
    prev_space = cp == ' ';
  }
  return out;
}

// What one byte tells the tokenizer, so that a token's bytes are scanned once.
enum ByteClass : std::uint8_t {
  kSpace = 1,       // ASCII white space as str.isspace() has it (also 0x1C-0x1F)
  kLeadSpace = 2,   // lead byte of a non-ASCII white space (U+0085, U+00A0, U+1680, U+2000...)
  kPunct = 4,       // string.punctuation
  kUpper = 8,       // A-Z
  kLower = 16,      // a-z
  kNonAscii = 32,
  kApostrophe = 64, // a token without one cannot hold "n't"
  kMark = 128,      // "!" or "?", counted by the punctuation amplifier
};

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
  std::array<std::uint8_t, 256> c{};
  for (int b = 0; b < 256; ++b) {
    std::uint8_t v = 0;
    if ((b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20)) v |= kSpace;
    if (b == 0xC2 || b == 0xE1 || b == 0xE2 || b == 0xE3) v |= kLeadSpace;
    if ((b >= '!' && b <= '/') || (b >= ':' && b <= '@') || (b >= '[' && b <= '`') || (b >= '{' && b <= '~'))
      v |= kPunct;
    if (b >= 'A' && b <= 'Z') v |= kUpper;
    if (b >= 'a' && b <= 'z') v |= kLower;
    if (b >= 0x80) v |= kNonAscii;
    if (b == '\'') v |= kApostrophe;
    if (b == '!' || b == '?') v |= kMark;
    c[static_cast<std::size_t>(b)] = v;
  }
  return c;
}
constexpr std::array<std::uint8_t, 256> kByteClass = make_byte_classes();

inline std::uint8_t byte_class(const char* p) { return kByteClass[static_cast<unsigned char>(*p)]; }

// Length in bytes of the white-space character at p, 0 when there is none. Valid UTF-8.
inline std::size_t space_length(const char* p, const char* end) {
  const std::uint8_t c = byte_class(p);
  if (c & kSpace) return 1;
  if (!(c & kLeadSpace)) return 0;
  const char* q = p;
  return unicode::is_space(unicode::decode(q, end)) ? static_cast<std::size_t>(q - p) : 0;
}

// The reference strips leading and trailing ASCII punctuation unless that leaves two code
// points or fewer (so ":)" and "ok!" stay as written).
std::string_view strip_punctuation(std::string_view token) {
  std::string_view s = token;
  while (!s.empty() && (byte_class(&s.front()) & kPunct)) s.remove_prefix(1);
  while (!s.empty() && (byte_class(&s.back()) & kPunct)) s.remove_suffix(1);
  if (s.size() <= 2) return token;
  if (s.size() <= 8) {  // two code points take at most 8 bytes
    std::size_t cps = 0;
    for (char c : s) cps += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (cps <= 2) return token;
  }
  return s;
}

// `classes`: the ByteClass bits of the token's bytes, or-ed (stripping removes no letter).
Token make_token(std::string_view word, std::uint8_t classes, const vader::WordTable& words,
                 std::string& lower_buf) {
  std::string_view lower = word;
  bool upper = (classes & kUpper) && !(classes & kLower);
  if (classes & kNonAscii) {
    lower_buf.clear();
    unicode::append_lower(word, lower_buf);
    lower = lower_buf;
    upper = unicode::is_upper(word);
  } else if (classes & kUpper) {
    lower_buf.assign(word);
    for (char& c : lower_buf) c = (byte_class(&c) & kUpper) ? static_cast<char>(c + 32) : c;
    lower = lower_buf;
  }
  const Entry& e = words.find(lower);
  const bool nt = (classes & kApostrophe) && lower.find("n't") != std::string_view::npos;
  return Token{e.valence, e.word, e.booster, e.in_lexicon, e.negator || nt, upper};
}

// Steps 2 to 4: split on white space, strip punctuation, look each token up once. Also counts
// "!" and "?" (never white space, so counting inside tokens counts them all).
void tokenize(std::string_view text, const vader::WordTable& words, Workspace& ws) {
  ws.tokens.clear();
  ws.exclamations = ws.questions = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    if (std::size_t n = space_length(p, end)) {
      p += n;
      continue;
    }
    const char* start = p;
    std::uint8_t classes = 0;
    do {
      classes |= byte_class(p);
      ++p;
    } while (p < end && !space_length(p, end));
    const std::string_view token(start, static_cast<std::size_t>(p - start));
    if (classes & kMark) {
      for (char c : token) {
        ws.exclamations += c == '!';
        ws.questions += c == '?';
      }
    }
    ws.tokens.push_back(make_token(strip_punctuation(token), classes, words, ws.lower));
  }
}

// The per-token rules: one Rules object per text, valence(i) for each token in order.
class Rules {
 public:
  Rules(const std::vector<Token>& tokens, bool cap_diff) : t_(tokens), cap_diff_(cap_diff) {}

  double valence(std::size_t i) const {
    if (t_[i].booster != 0) return 0.0;
    if (word(i) == Word::kKind && i + 1 < t_.size() && word(i + 1) == Word::kOf) return 0.0;
    if (!t_[i].in_lexicon) return 0.0;
    double v = base_valence(i);
    for (std::size_t k = 1; k <= 3; ++k) {
      if (i < k || in_lexicon(i - k)) continue;
      v = v + booster_scalar(i - k, v, k);
      v = negation(v, i, k);
      if (k == 3) v = special_phrases(v, i);
    }
    return least(v, i);
  }

 private:
  Word word(std::size_t i) const { return t_[i].word; }
  bool in_lexicon(std::size_t i) const { return t_[i].in_lexicon; }
  bool so_or_this(std::size_t i) const { return word(i) == Word::kSo || word(i) == Word::kThis; }

  // The lexicon value, with "no" and ALL-CAPS emphasis applied.
  double base_valence(std::size_t i) const {
    const double lex = t_[i].valence;
    double v = lex;
    // "no" before another lexicon word negates that word rather than scoring itself.
    if (word(i) == Word::kNo && i + 1 < t_.size() && in_lexicon(i + 1)) v = 0.0;
    if ((i > 0 && word(i - 1) == Word::kNo) || (i > 1 && word(i - 2) == Word::kNo) ||
        (i > 2 && word(i - 3) == Word::kNo && (word(i - 1) == Word::kOr || word(i - 1) == Word::kNor)))
      v = lex * kNScalar;
    if (t_[i].upper && cap_diff_) v = v > 0 ? v + kCIncr : v - kCIncr;
    return v;
  }

  // A booster k words back: +-B_INCR (sign of the valence), more when it is in caps, dampened
  // with distance. Note the reference's sign tests: valence < 0 flips, valence > 0 adds caps.
  double booster_scalar(std::size_t j, double v, std::size_t k) const {
    double s = 0.0;
    if (t_[j].booster != 0) {
      s = t_[j].booster > 0 ? kBIncr : kBDecr;
      if (v < 0) s *= -1;
      if (t_[j].upper && cap_diff_) s = v > 0 ? s + kCIncr : s - kCIncr;
    }
    if (k == 2 && s != 0) s = s * 0.95;
    if (k == 3 && s != 0) s = s * 0.9;
    return s;
  }

  double negation(double v, std::size_t i, std::size_t k) const {
    if (k == 1) return t_[i - 1].negator ? v * kNScalar : v;
    if (k == 2) {
      if (word(i - 2) == Word::kNever && so_or_this(i - 1)) return v * 1.25;
      if (word(i - 2) == Word::kWithout && word(i - 1) == Word::kDoubt) return v;
      return t_[i - 2].negator ? v * kNScalar : v;
    }
    if ((word(i - 3) == Word::kNever && so_or_this(i - 2)) || so_or_this(i - 1)) return v * 1.25;
    if (word(i - 3) == Word::kWithout && (word(i - 2) == Word::kDoubt || word(i - 1) == Word::kDoubt))
      return v;
    return t_[i - 3].negator ? v * kNScalar : v;
  }

  static std::optional<double> phrase2(Word a, Word b) {
    if (a == Word::kThe && (b == Word::kShit || b == Word::kBomb)) return 3;
    if (a == Word::kBad && b == Word::kAss) return 1.5;
    if (a == Word::kBus && b == Word::kStop) return 0.0;
    if (a == Word::kYeah && b == Word::kRight) return -2;
    if (a == Word::kBeating && b == Word::kHeart) return 3.1;
    if (a == Word::kBroken && b == Word::kHeart) return -2.9;
    return std::nullopt;
  }
  static std::optional<double> phrase3(Word a, Word b, Word c) {
    if (a == Word::kKiss && b == Word::kOf && c == Word::kDeath) return -1.5;
    if (a == Word::kTo && b == Word::kDie && c == Word::kFor) return 3;
    return std::nullopt;
  }
  static bool dampener_pair(Word a, Word b) {
    return ((a == Word::kKind || a == Word::kSort) && b == Word::kOf) ||
           (a == Word::kJust && b == Word::kEnough);
  }

  // Only reached for i >= 3. The first phrase found around the word replaces its valence, then
  // a phrase starting at it does; "kind of" / "sort of" / "just enough" before it dampen.
  double special_phrases(double v, std::size_t i) const {
    const Word w0 = word(i), w1 = word(i - 1), w2 = word(i - 2), w3 = word(i - 3);
    if (auto p = phrase2(w1, w0)) v = *p;
    else if (auto p = phrase3(w2, w1, w0)) v = *p;
    else if (auto p = phrase2(w2, w1)) v = *p;
    else if (auto p = phrase3(w3, w2, w1)) v = *p;
    else if (auto p = phrase2(w3, w2)) v = *p;
    if (i + 1 < t_.size())
      if (auto p = phrase2(w0, word(i + 1))) v = *p;
    if (i + 2 < t_.size())
      if (auto p = phrase3(w0, word(i + 1), word(i + 2))) v = *p;
    if (dampener_pair(w3, w2)) v = v + kBDecr;
    if (dampener_pair(w2, w1)) v = v + kBDecr;
    return v;
  }

  double least(double v, std::size_t i) const {
    if (i > 1 && !in_lexicon(i - 1) && word(i - 1) == Word::kLeast) {
      if (word(i - 2) != Word::kAt && word(i - 2) != Word::kVery) v = v * kNScalar;
    } else if (i > 0 && !in_lexicon(i - 1) && word(i - 1) == Word::kLeast) {
      v = v * kNScalar;
    }
    return v;
  }

  const std::vector<Token>& t_;
  const bool cap_diff_;
};

// ALL-CAPS emphasis counts only when some but not all tokens are upper-case.
bool cap_differential(const std::vector<Token>& tokens) {
  std::size_t upper = 0;
  for (const Token& t : tokens) upper += t.upper;
  return upper > 0 && upper < tokens.size();
}

double but_factor(std::size_t j, std::size_t but) { return j < but ? 0.5 : 1.5; }

void apply_but(const std::vector<Token>& tokens, std::vector<double>& v) {
  std::size_t but = 0;
  while (but < tokens.size() && tokens[but].word != Word::kBut) ++but;
  if (but < tokens.size()) vader::apply_but_rule(v, but);
}

double punctuation_amplifier(int exclamations, int questions) {
  const double ep = (exclamations > 4 ? 4 : exclamations) * 0.292;
  double qm = 0.0;
  if (questions > 1) qm = questions <= 3 ? questions * 0.18 : 0.96;
  return ep + qm;
}

// Python's round(x, digits): the decimal nearest to the exact binary value of x, ties to even,
// read back as a double. Scaling is exact enough except within a hair of a tie; there the
// correctly rounded printf/strtod pair decides, as CPython's dtoa does.
double py_round(double x, int digits) {
  const double scale = digits == 3 ? 1e3 : 1e4;
  const double y = x * scale;
  const double frac = std::fabs(y - std::trunc(y));
  if (std::fabs(frac - 0.5) > 1e-6) return std::round(y) / scale;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return std::strtod(buf, nullptr);
}

SentimentScores finish(const std::vector<double>& v, double punct) {
  double sum = 0.0;
  for (double x : v) sum += x;
  if (sum > 0) sum += punct;
  else if (sum < 0) sum -= punct;
  double compound = sum / std::sqrt(sum * sum + 15);
  compound = compound < -1.0 ? -1.0 : compound > 1.0 ? 1.0 : compound;

  double pos_sum = 0.0, neg_sum = 0.0;
  int neu_count = 0;
  for (double x : v) {
    if (x > 0) pos_sum += x + 1;  // the +1 / -1 count a sentiment word as a neutral one would
    if (x < 0) neg_sum += x - 1;
    if (x == 0) ++neu_count;
  }
  if (pos_sum > std::fabs(neg_sum)) pos_sum += punct;
  else if (pos_sum < std::fabs(neg_sum)) neg_sum -= punct;
  const double total = pos_sum + std::fabs(neg_sum) + neu_count;
  return SentimentScores{py_round(std::fabs(neg_sum / total), 3), py_round(std::fabs(neu_count / total), 3),
                         py_round(std::fabs(pos_sum / total), 3), py_round(compound, 4)};
}

// The emoji names are embedded, the same for every model: parsed and sorted
// once per process and shared. (Built per model, they were two thirds of the
// time it took to load a small lexicon.)
std::shared_ptr<const vader::EmojiTable> embedded_emoji_table() {
  static const auto table = std::make_shared<const vader::EmojiTable>(vader::parse_emoji_names(
      embedded::as_text(embedded::emoji_names_tsv, embedded::emoji_names_tsv_size)));
  return table;
}

SentimentModel::Tables make_tables(std::string_view lexicon_tsv, std::string_view origin) {
  return SentimentModel::Tables{vader::make_word_table(vader::parse_lexicon(lexicon_tsv, origin)),
                                embedded_emoji_table()};
}

// The "but" rule for many non-zero valences: positions indexed by value, O(n log n).
void apply_but_rule_indexed(std::vector<double>& v, std::size_t but) {
  std::map<double, std::set<std::size_t>> where;  // -0.0 and 0.0 are one key, as == has it
  for (std::size_t k = 0; k < v.size(); ++k) where[v[k]].insert(k);
  for (std::size_t k = 0; k < v.size(); ++k) {
    const double x = v[k];
    auto it = where.find(x);
    const std::size_t j = *it->second.begin();
    if (j == but) continue;
    it->second.erase(it->second.begin());
    if (it->second.empty()) where.erase(it);
    v[j] = x * but_factor(j, but);
    where[v[j]].insert(j);
  }
}

}  // namespace

namespace vader {

// The reference's "but" rule, quirk included: for each position k in order it takes the current
// value x = v[k], finds the FIRST position j holding a value equal to x, and writes x * factor
// there (not at k). Zeros stay zeros, so a zero's first position is tracked directly and only
// the non-zero positions are scanned; when there are many of those (a megabyte of "a but a"),
// positions are indexed by value instead, so the rule is never quadratic.
void apply_but_rule(std::vector<double>& v, std::size_t but) {
  thread_local std::vector<std::size_t> nonzero;
  nonzero.clear();
  std::size_t first_zero = v.size();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != 0) nonzero.push_back(i);
    else if (first_zero == v.size()) first_zero = i;
  }
  if (nonzero.size() > 1024) {
    std::vector<std::size_t>().swap(nonzero);  // do not pin a huge buffer to the thread
    apply_but_rule_indexed(v, but);
    return;
  }
  for (std::size_t k = 0; k < v.size(); ++k) {
    const double x = v[k];
    std::size_t j = first_zero;  // position k is untouched until step k, so x == 0 means k >= first_zero
    if (x != 0) {
      auto p = nonzero.begin();
      while (v[*p] != x) ++p;  // stops at k at the latest
      j = *p;
    }
    if (j == but) continue;
    v[j] = x * but_factor(j, but);
    if (v[j] == 0 && j < first_zero) first_zero = j;  // a subnormal valence halved to zero
  }
}

}  // namespace vader

SentimentModel::SentimentModel(std::unique_ptr<const Tables> tables) : tables_(std::move(tables)) {}
SentimentModel::SentimentModel(SentimentModel&&) noexcept = default;
SentimentModel& SentimentModel::operator=(SentimentModel&&) noexcept = default;
SentimentModel::~SentimentModel() = default;

const SentimentModel& SentimentModel::builtin() {
  static const SentimentModel model = from_lexicon_text(
      embedded::as_text(embedded::vader_lexicon_tsv, embedded::vader_lexicon_tsv_size),
      "(embedded data/vader_lexicon.tsv)");
  return model;
}

SentimentModel SentimentModel::from_lexicon_text(std::string_view tsv, std::string_view origin) {
  return SentimentModel(std::make_unique<const Tables>(make_tables(tsv, origin)));
}

SentimentModel SentimentModel::from_lexicon_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read lexicon " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read lexicon " + path);
  return from_lexicon_text(text.str(), path);
}

SentimentScores SentimentModel::score(std::string_view utf8_text) const {
  thread_local Workspace ws;
  const std::string_view text = replace_emoji(utf8_text, *tables_->emoji, ws.text);
  tokenize(text, tables_->words, ws);
  SentimentScores scores;
  if (!ws.tokens.empty()) {
    const Rules rules(ws.tokens, cap_differential(ws.tokens));
    ws.valences.clear();
    for (std::size_t i = 0; i < ws.tokens.size(); ++i) ws.valences.push_back(rules.valence(i));
    apply_but(ws.tokens, ws.valences);
    scores = finish(ws.valences, punctuation_amplifier(ws.exclamations, ws.questions));
  }
  ws.release_if_huge();
  return scores;
}

std::string_view SentimentModel::label(double compound) {
  if (compound >= 0.05) return "positive";
  if (compound <= -0.05) return "negative";
  return "neutral";
}

}  // namespace mlgate
