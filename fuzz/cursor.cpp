// Fuzz target: the GET /jobs `cursor` query parameter (CursorCodec, the
// opaque owner-bound cursor of src/cursor.hpp).
// Properties:
// - a cursor that decodes for an owner names a position > 0, and encoding
//   that position again gives a cursor that decodes to it (round trip);
// - every position a page can hand out (any int64 > 0) encodes to a cursor
//   that decodes back to it exactly for its owner, and not for another.
// fuzz-dict: cursor
#include <cstring>
#include <string>

#include "cursor.hpp"
#include "fuzz_check.hpp"

namespace {
const mlgate::CursorCodec kCodec(mlgate::CursorKey{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::as_text(data, size);
  if (const auto v = kCodec.decode(in, "alice")) {
    FUZZ_CHECK(*v > 0);
    FUZZ_CHECK(kCodec.decode(kCodec.encode(*v, "alice"), "alice") == v);
  }
  if (size >= 8) {
    int64_t v = 0;
    std::memcpy(&v, data, 8);
    if (v > 0) {
      const std::string c = kCodec.encode(v, "alice");
      FUZZ_CHECK(kCodec.decode(c, "alice") == v);
      FUZZ_CHECK(!kCodec.decode(c, "bob").has_value());
    }
  }
  return 0;
}
