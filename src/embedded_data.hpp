// embedded_data.hpp: data files compiled into the binary by cmake/embed_data.cmake.
//
// Contract: each array holds the file's bytes exactly, followed by one 0x00 that <name>_size
// does not count. The data lives for the whole program and is never written.
#pragma once

#include <cstddef>
#include <string_view>

namespace mlgate::embedded {

extern const unsigned char vader_lexicon_tsv[];  // data/vader_lexicon.tsv
extern const std::size_t vader_lexicon_tsv_size;
extern const unsigned char emoji_names_tsv[];    // data/emoji_names.tsv
extern const std::size_t emoji_names_tsv_size;

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace mlgate::embedded
