// Fuzz target: the API key format check (check_format), the first thing
// done with a presented key, before any storage is touched.
// Properties:
// - check_format accepts exactly what the format says: "mlg_", 32 base62
//   characters, and the 6 base62 characters key_checksum gives for them
//   (checked here by an independent reading, not by check_format's own
//   branch-free code);
// - a key built from the input's characters with its checksum appended is
//   accepted (round trip: check_format(make(body)) for any base62 body);
// - changing any one character of an accepted key to another base62
//   character makes it refused (the CRC-32 catches every single-character
//   change, and six base62 characters encode a CRC without collisions).
// fuzz-dict: api_key
#include <string>

#include "api_key.hpp"
#include "fuzz_check.hpp"

namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool base62(std::string_view s) { return s.find_first_not_of(kBase62) == std::string_view::npos; }

bool reference_check(std::string_view key) {
  using namespace mlgate;
  if (key.size() != kKeyLen || key.substr(0, 4) != kKeyPrefix) return false;
  const auto body = key.substr(4, kKeyBodyLen);
  const auto sum = key.substr(4 + kKeyBodyLen);
  return base62(body) && base62(sum) && key_checksum(body) == sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mlgate;
  const std::string_view in = fuzz::as_text(data, size);
  const bool ok = check_format(in);
  FUZZ_CHECK(ok == reference_check(in));

  // A key made from the input: its first 32 bytes mapped onto the alphabet.
  std::string body(kKeyBodyLen, '0');
  for (size_t i = 0; i < kKeyBodyLen && i < size; ++i) body[i] = kBase62[data[i] % 62];
  std::string key = std::string(kKeyPrefix) + body + key_checksum(body);
  FUZZ_CHECK(key.size() == kKeyLen && base62(key_checksum(body)));
  FUZZ_CHECK(check_format(key));

  // One character changed, where and to what the input says.
  if (size >= kKeyBodyLen + 2) {
    const size_t at = 4 + data[kKeyBodyLen] % (kKeyLen - 4);
    const char to = kBase62[data[kKeyBodyLen + 1] % 62];
    if (key[at] != to) {
      key[at] = to;
      FUZZ_CHECK(!check_format(key));
    }
  }
  return 0;
}
