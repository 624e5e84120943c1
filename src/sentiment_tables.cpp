// sentiment_tables.cpp: see sentiment_tables.hpp. The word lists are the reference's
// (vaderSentiment 3.3.2: BOOSTER_DICT, NEGATE, SPECIAL_CASES); VADER_NOTES.md counts them.
#include "sentiment_tables.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "printable.hpp"
#include "unicode_text.hpp"

namespace mlgate::vader {
namespace {

// 60 boosters. The reference also lists the dampeners "kind of", "sort of" and "just enough";
// a token never holds a space, so those act only as word pairs (see sentiment.cpp).
constexpr std::string_view kIncrease[] = {
    "absolutely", "amazingly", "awfully", "completely", "considerable", "considerably",
    "decidedly", "deeply", "effing", "enormous", "enormously", "entirely", "especially",
    "exceptional", "exceptionally", "extreme", "extremely", "fabulously", "flipping", "flippin",
    "frackin", "fracking", "fricking", "frickin", "frigging", "friggin", "fully", "fuckin",
    "fucking", "fuggin", "fugging", "greatly", "hella", "highly", "hugely", "incredible",
    "incredibly", "intensely", "major", "majorly", "more", "most", "particularly", "purely",
    "quite", "really", "remarkably", "so", "substantially", "thoroughly", "total", "totally",
    "tremendous", "tremendously", "uber", "unbelievably", "unusually", "utter", "utterly",
    "very"};
constexpr std::string_view kDecrease[] = {
    "almost", "barely", "hardly", "kinda", "kindof", "kind-of", "less", "little", "marginal",
    "marginally", "occasional", "occasionally", "partly", "scarce", "scarcely", "slight",
    "slightly", "somewhat", "sorta", "sortof", "sort-of"};
constexpr std::string_view kNegate[] = {
    "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt", "ain't", "aren't",
    "can't", "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt", "havent",
    "isnt", "mightnt", "mustnt", "neither", "don't", "hadn't", "hasn't", "haven't", "isn't",
    "mightn't", "mustn't", "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing",
    "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent", "oughtn't", "shan't",
    "shouldn't", "uh-uh", "wasn't", "weren't", "without", "wont", "wouldnt", "won't", "wouldn't",
    "rarely", "seldom", "despite"};
static_assert(std::size(kIncrease) == 60 && std::size(kDecrease) + 3 == 24);
static_assert(std::size(kNegate) == 59);

constexpr std::pair<std::string_view, Word> kWords[] = {
    {"no", Word::kNo}, {"but", Word::kBut}, {"least", Word::kLeast}, {"at", Word::kAt},
    {"very", Word::kVery}, {"or", Word::kOr}, {"nor", Word::kNor}, {"never", Word::kNever},
    {"so", Word::kSo}, {"this", Word::kThis}, {"without", Word::kWithout},
    {"doubt", Word::kDoubt}, {"kind", Word::kKind}, {"of", Word::kOf}, {"sort", Word::kSort},
    {"just", Word::kJust}, {"enough", Word::kEnough}, {"the", Word::kThe},
    {"shit", Word::kShit}, {"bomb", Word::kBomb}, {"bad", Word::kBad}, {"ass", Word::kAss},
    {"bus", Word::kBus}, {"stop", Word::kStop}, {"yeah", Word::kYeah},
    {"right", Word::kRight}, {"kiss", Word::kKiss}, {"death", Word::kDeath},
    {"to", Word::kTo}, {"die", Word::kDie}, {"for", Word::kFor},
    {"beating", Word::kBeating}, {"heart", Word::kHeart}, {"broken", Word::kBroken}};

// Python's str.strip() (no argument): white space as str.isspace() defines it.
std::string_view strip_space(std::string_view s) {
  while (!s.empty()) {
    const char* p = s.data();
    const char32_t cp = unicode::decode(p, s.data() + s.size());
    if (!unicode::is_space(cp)) break;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  }
  while (!s.empty()) {
    std::size_t start = s.size() - 1;  // first byte of the last code point
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const char* p = s.data() + start;
    if (!unicode::is_space(unicode::decode(p, s.data() + s.size()))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

bool valid_utf8(std::string_view s) {
  for (const char *p = s.data(), *end = p + s.size(); p < end;) {
    const char* start = p;
    if (unicode::decode(p, end) == unicode::kReplacement &&
        std::string_view(start, static_cast<std::size_t>(p - start)) != "\xEF\xBF\xBD")
      return false;
  }
  return true;
}

// A valence as Python's float() reads it, finite only (an infinite or NaN valence would make
// every score of a text that contains the word meaningless).
constexpr double kMaxValence = 1000;

bool parse_valence(std::string_view s, double& out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

[[noreturn]] void lexicon_error(std::string_view origin, std::size_t line, std::string_view what) {
  throw std::runtime_error("lexicon " + std::string(origin) + " line " + std::to_string(line) +
                           ": " + std::string(what));
}

}  // namespace

WordTable::WordTable(const std::unordered_map<std::string, Entry>& entries) {
  // Load factor at most 1/4: a token that is in no list (most of them) usually ends its
  // probe at the first empty slot.
  const std::size_t size = std::bit_ceil(std::max<std::size_t>(16, entries.size() * 4));
  slots_.resize(size);
  mask_ = size - 1;
  for (const auto& [key, entry] : entries) {
    const std::uint64_t h = hash_key(key);
    std::size_t i = h & mask_;
    while (slots_[i].item != 0) i = (i + 1) & mask_;
    items_.push_back(Item{static_cast<std::uint32_t>(keys_.size()), static_cast<std::uint32_t>(key.size()), entry});
    slots_[i] = Slot{static_cast<std::uint32_t>(h >> 32), static_cast<std::uint32_t>(items_.size())};
    keys_ += key;
  }
}

EmojiTable::EmojiTable(std::vector<std::pair<char32_t, std::string>> names) : names_(std::move(names)) {
  // By code point only, keeping the file's order among equals: a repeated
  // code point keeps its last name, as the reference's dict does.
  std::stable_sort(names_.begin(), names_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<char32_t, std::string>> unique;
  for (auto& n : names_) {
    if (!unique.empty() && unique.back().first == n.first) unique.pop_back();
    unique.push_back(std::move(n));
  }
  names_ = std::move(unique);
  min_ = names_.empty() ? 0x110000 : names_.front().first;
}

const std::string* EmojiTable::find(char32_t cp) const noexcept {
  auto it = std::lower_bound(names_.begin(), names_.end(), cp,
                             [](const auto& n, char32_t c) { return n.first < c; });
  return it != names_.end() && it->first == cp ? &it->second : nullptr;
}

std::unordered_map<std::string, double> parse_lexicon(std::string_view tsv, std::string_view origin) {
  std::unordered_map<std::string, double> lexicon;
  std::size_t number = 0;
  while (!tsv.empty()) {
    const std::size_t nl = tsv.find('\n');
    std::string_view line = tsv.substr(0, nl);
    tsv.remove_prefix(nl == std::string_view::npos ? tsv.size() : nl + 1);
    ++number;
    if (!valid_utf8(line)) lexicon_error(origin, number, "not valid UTF-8");
    line = strip_space(line);  // also drops a CR of a CRLF file
    if (line.empty()) continue;
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) lexicon_error(origin, number, "expected token<TAB>valence");
    std::string_view value = line.substr(tab + 1);
    value = value.substr(0, value.find('\t'));
    double valence = 0;
    if (!parse_valence(value, valence))
      lexicon_error(origin, number, "valence \"" + printable(value, 40) + "\" is not a finite number");
    // The published valences lie in [-4, 4] and other scales are welcome,
    // but past 1000 the sums of a long text overflow a double (three tokens
    // of 1e308 made the scores NaN).
    if (std::fabs(valence) > kMaxValence)
      lexicon_error(origin, number, "valence \"" + printable(value, 40) + "\" is outside -1000..1000");
    lexicon[std::string(line.substr(0, tab))] = valence;
  }
  if (lexicon.empty()) throw std::runtime_error("lexicon " + std::string(origin) + ": no entries");
  return lexicon;
}

std::vector<std::pair<char32_t, std::string>> parse_emoji_names(std::string_view tsv) {
  std::vector<std::pair<char32_t, std::string>> names;
  while (!tsv.empty()) {
    const std::size_t nl = tsv.find('\n');
    const std::string_view line = tsv.substr(0, nl);
    tsv.remove_prefix(nl == std::string_view::npos ? tsv.size() : nl + 1);
    const std::size_t tab = line.find('\t');
    std::uint32_t cp = 0;
    if (tab == std::string_view::npos ||
        std::from_chars(line.data(), line.data() + tab, cp, 16).ptr != line.data() + tab)
      throw std::runtime_error("embedded emoji names: malformed line \"" + std::string(line) + "\"");
    names.emplace_back(static_cast<char32_t>(cp), std::string(line.substr(tab + 1)));
  }
  return names;
}

WordTable make_word_table(const std::unordered_map<std::string, double>& lexicon) {
  std::unordered_map<std::string, Entry> entries;
  for (const auto& [word, valence] : lexicon) {
    Entry& e = entries[word];
    e.valence = valence;
    e.in_lexicon = true;
  }
  for (auto w : kIncrease) entries[std::string(w)].booster = 1;
  for (auto w : kDecrease) entries[std::string(w)].booster = -1;
  for (auto w : kNegate) entries[std::string(w)].negator = true;
  for (auto [w, id] : kWords) entries[std::string(w)].word = id;
  return WordTable(entries);
}

}  // namespace mlgate::vader
