// sentiment_tables.hpp: internal to the sentiment model (sentiment.cpp) and its tests; not a
// public header. The tables the VADER rules consult, built once per model and then only read:
// - WordTable: every lower-cased token a rule reacts to (lexicon words, boosters, negators and
//   the words of the special phrases), mapped to one Entry, so that scoring looks each token up
//   once, in a flat open-addressing table keyed by string_view (no allocation on look-up);
// - EmojiTable: single-code-point emoji -> English name.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sentiment.hpp"

namespace mlgate::vader {

// Words that the rules compare tokens with by spelling ("no", "but", "kind of", the special
// phrases...). Every other token is kOther.
enum class Word : std::uint8_t {
  kOther, kNo, kBut, kLeast, kAt, kVery, kOr, kNor, kNever, kSo, kThis, kWithout, kDoubt,
  kKind, kOf, kSort, kJust, kEnough, kThe, kShit, kBomb, kBad, kAss, kBus, kStop, kYeah,
  kRight, kKiss, kDeath, kTo, kDie, kFor, kBeating, kHeart, kBroken,
};

struct Entry {
  double valence = 0.0;        // lexicon mean valence, meaningful when in_lexicon
  std::int8_t booster = 0;     // +1 booster (B_INCR), -1 dampener (B_DECR), 0 neither
  bool in_lexicon = false;
  bool negator = false;        // in the reference's NEGATE list (n't is checked separately)
  Word word = Word::kOther;
};

// Eight bytes at a time with a multiply-xorshift mix: tokens are short, so this is a few
// cycles, and the table is private (a text only reads it: no flooding to defend against).
inline std::uint64_t hash_key(std::string_view s) noexcept {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 29);
}

class WordTable {
 public:
  explicit WordTable(const std::unordered_map<std::string, Entry>& entries);
  // The entry of a lower-cased token; a default Entry (not in anything) when absent. Inline:
  // it runs once per token.
  const Entry& find(std::string_view key) const noexcept {
    const std::uint64_t h = hash_key(key);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot s = slots_[i];
      if (s.item == 0) return absent_;
      if (s.tag != tag) continue;
      const Item& item = items_[s.item - 1];
      if (item.length == key.size() && std::memcmp(keys_.data() + item.offset, key.data(), key.size()) == 0)
        return item.entry;
    }
  }

 private:
  // Slots are 8 bytes so the whole index stays in cache; the rest is only read on a tag match.
  struct Slot {
    std::uint32_t tag = 0;   // high half of the key's hash
    std::uint32_t item = 0;  // 1 + index into items_, 0 for an empty slot
  };
  struct Item {
    std::uint32_t offset = 0;  // key bytes in keys_
    std::uint32_t length = 0;
    Entry entry;
  };
  std::string keys_;
  std::vector<Item> items_;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  Entry absent_{};
};

class EmojiTable {
 public:
  explicit EmojiTable(std::vector<std::pair<char32_t, std::string>> names);
  // The English name of a single-code-point emoji, or nullptr.
  const std::string* find(char32_t cp) const noexcept;
  // The smallest code point with a name: text below it needs no emoji pass.
  char32_t min_code_point() const noexcept { return min_; }

 private:
  std::vector<std::pair<char32_t, std::string>> names_;  // sorted by code point
  char32_t min_ = 0;
};

// Lexicon lines as the reference reads them: line.strip().split('\t')[0:2], valence a number,
// a later line winning. Throws std::runtime_error("lexicon <origin> line N: ...").
std::unordered_map<std::string, double> parse_lexicon(std::string_view tsv, std::string_view origin);

// data/emoji_names.tsv lines: code point in hex<TAB>name.
std::vector<std::pair<char32_t, std::string>> parse_emoji_names(std::string_view tsv);

// The word table for a lexicon: the lexicon plus the reference's booster, negation and
// special-phrase words.
WordTable make_word_table(const std::unordered_map<std::string, double>& lexicon);

// The "but" rule on the token valences v, `but` the position of the first "but" (< v.size()),
// with the reference's ordering quirk (sentiment.cpp). Here so tests can reach both code paths.
void apply_but_rule(std::vector<double>& v, std::size_t but);

}  // namespace mlgate::vader

namespace mlgate {
struct SentimentModel::Tables {
  vader::WordTable words;
  std::shared_ptr<const vader::EmojiTable> emoji;  // the embedded one, shared by every model
};
}  // namespace mlgate
