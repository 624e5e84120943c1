// cursor.hpp: the `cursor` of GET /jobs, opaque to its holder.
//
// A cursor stands for the last job of a page: its sequence number, the
// order in which the service accepted jobs. In the clear that number would
// tell every owner how many jobs the whole service has taken (and, from two
// cursors, how many others submitted in between). It is therefore
// enciphered: one AES-128 block holding the number and 8 bytes derived from
// the owner, under a random key that each database makes for itself.
//
// Contract:
// - encode() is deterministic: the same job gives the same cursor, so
//   paging stays stable while new jobs arrive (the order is still the
//   sequence number's).
// - decode() returns the number only for a cursor this database's key made
//   for this owner; anything else (garbage, an edited cursor, another
//   owner's or another database's cursor) is nullopt. A made-up cursor
//   passes with probability 2^-64.
// - Thread-safe (no mutable state).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mlgate {

using CursorKey = std::array<uint8_t, 16>;

class CursorCodec {
 public:
  explicit CursorCodec(const CursorKey& key) : key_(key) {}
  // 22 characters of base64url (no padding).
  std::string encode(int64_t seq, std::string_view owner) const;
  std::optional<int64_t> decode(std::string_view cursor, std::string_view owner) const;

 private:
  CursorKey key_;
};

}  // namespace mlgate
