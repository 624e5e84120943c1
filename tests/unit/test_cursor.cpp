// Unit tests for cursor.hpp: GET /jobs cursors round-trip for their owner,
// reveal no sequence number, and refuse garbage, edits, another owner's and
// another database's cursors.
#include <doctest/doctest.h>

#include <climits>
#include <set>
#include <string>

#include "cursor.hpp"

using namespace mlgate;

namespace {

const CursorKey kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

}  // namespace

TEST_CASE("a cursor round-trips for its owner") {
  CursorCodec codec(kKey);
  for (int64_t v : {int64_t{1}, int64_t{42}, int64_t{1} << 40, int64_t{INT64_MAX}}) {
    CAPTURE(v);
    std::string c = codec.encode(v, "alice");
    CHECK(c.size() == 22);
    CHECK(c.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    CHECK(codec.decode(c, "alice") == v);
    CHECK(codec.encode(v, "alice") == c);  // deterministic: paging is stable
  }
}

TEST_CASE("a cursor shows no sequence number: neighbours look unrelated") {
  CursorCodec codec(kKey);
  std::set<std::string> seen;
  std::string prev = codec.encode(1000, "alice");
  for (int64_t v = 1001; v < 1100; ++v) {
    std::string c = codec.encode(v, "alice");
    CHECK(c.find(std::to_string(v)) == std::string::npos);
    // Consecutive numbers share no prefix beyond chance (a counter in the
    // clear, or in a plain encoding, would share most of its characters).
    size_t common = 0;
    while (common < c.size() && c[common] == prev[common]) ++common;
    CHECK(common < 4);
    seen.insert(c);
    prev = c;
  }
  CHECK(seen.size() == 99);
}

TEST_CASE("another owner's cursor, another database's, an edited one and garbage decode to nothing") {
  CursorCodec codec(kKey);
  std::string c = codec.encode(77, "alice");
  CHECK_FALSE(codec.decode(c, "bob").has_value());
  CursorKey other = kKey;
  other[0] ^= 1;
  CHECK_FALSE(CursorCodec(other).decode(c, "alice").has_value());
  for (size_t i = 0; i < c.size(); ++i) {
    std::string edited = c;
    edited[i] = edited[i] == 'A' ? 'B' : 'A';
    CAPTURE(edited);
    CHECK_FALSE(codec.decode(edited, "alice").has_value());
  }
  for (std::string bad : {std::string(), std::string("c42"), std::string(22, 'A'), std::string(22, '='),
                          c + "A", c.substr(1), std::string("\xff\xfe"), std::string(5000, 'c')}) {
    CAPTURE(bad);
    CHECK_FALSE(codec.decode(bad, "alice").has_value());
  }
}
