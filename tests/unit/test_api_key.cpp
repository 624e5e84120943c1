// Unit tests for api_key.hpp: the key format, its checksum, and its hash.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <set>
#include <string>

#include "api_key.hpp"

using namespace mlgate;

namespace {

constexpr std::string_view kAlphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool all_base62(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return kAlphabet.find(c) != std::string_view::npos; });
}

std::string hex(const KeyHash& h) {
  std::string out;
  char buf[3];
  for (uint8_t b : h) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

// A key with the right checksum for `body`, whatever the body holds.
std::string with_checksum(std::string_view prefix, std::string_view body) {
  return std::string(prefix) + std::string(body) + key_checksum(body);
}

}  // namespace

TEST_CASE("a generated key is mlg_, 32 base62 characters, and the body's checksum") {
  for (int i = 0; i < 100; ++i) {
    std::string k = generate_api_key();
    REQUIRE(k.size() == kKeyLen);
    CHECK(k.substr(0, 4) == "mlg_");
    std::string body = k.substr(4, kKeyBodyLen);
    CHECK(all_base62(body));
    CHECK(k.substr(4 + kKeyBodyLen) == key_checksum(body));
    CHECK(check_format(k));
  }
}

TEST_CASE("generated keys and ids are distinct and use the whole alphabet evenly") {
  std::set<std::string> keys;
  std::array<int, 128> count{};
  constexpr int kKeys = 2000;
  for (int i = 0; i < kKeys; ++i) {
    std::string k = generate_api_key();
    keys.insert(k);
    for (size_t j = 4; j < 4 + kKeyBodyLen; ++j) ++count[static_cast<unsigned char>(k[j])];
  }
  CHECK(keys.size() == kKeys);
  // 64000 characters, about 1032 of each. Reducing bytes modulo 62 would give
  // the first eight characters 5/4 of the others' share; the test allows
  // 1.1 (each mean is over thousands of samples, so its noise is ~1%).
  double first8 = 0, rest = 0;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    int n = count[static_cast<unsigned char>(kAlphabet[i])];
    CHECK(n > 0);
    (i < 8 ? first8 : rest) += n;
  }
  double ratio = (first8 / 8) / (rest / 54);
  CHECK(ratio < 1.1);
  CHECK(ratio > 0.9);

  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = generate_key_id();
    CHECK(id.size() == 14);
    CHECK(id.substr(0, 4) == "key_");
    CHECK(all_base62(id.substr(4)));
    ids.insert(id);
  }
  CHECK(ids.size() == 1000);
}

TEST_CASE("the checksum is CRC-32 of the body as six base62 digits, most significant first") {
  // CRC-32("123456789") is the standard check value 0xCBF43926 = 3421780262,
  // which is 3jZRME in base62 over 0-9A-Za-z.
  CHECK(key_checksum("123456789") == "3jZRME");
  CHECK(key_checksum("0123456789ABCDEFGHIJKLMNOPQRSTUV") == "1ggZdL");  // CRC 1546885699
  CHECK(key_checksum("") == "000000");
}

TEST_CASE("every single-character change to a valid key is refused") {
  std::string key = generate_api_key();
  REQUIRE(check_format(key));
  using namespace std::string_literals;
  std::string alphabet = std::string(kAlphabet) + "_-+/= .\x00\x7f\x80\xff"s;
  int mutants = 0;
  for (size_t i = 0; i < key.size(); ++i) {
    for (char c : alphabet) {
      if (c == key[i]) continue;
      std::string m = key;
      m[i] = c;
      ++mutants;
      if (check_format(m)) FAIL_CHECK("accepted " << m << " (position " << i << ")");
    }
  }
  CHECK(mutants > 42 * 60);
}

TEST_CASE("swapping two adjacent characters of a valid key is refused") {
  for (int round = 0; round < 20; ++round) {
    std::string key = generate_api_key();
    for (size_t i = 4; i + 1 < key.size(); ++i) {
      if (key[i] == key[i + 1]) continue;
      std::string m = key;
      std::swap(m[i], m[i + 1]);
      CHECK_FALSE(check_format(m));
    }
  }
}

TEST_CASE("a wrong length is refused even when the first 42 characters are a valid key") {
  std::string key = generate_api_key();
  CHECK_FALSE(check_format(key + "a"));
  CHECK_FALSE(check_format(key + std::string(1, '\0')));
  CHECK_FALSE(check_format(key.substr(0, kKeyLen - 1)));
  CHECK_FALSE(check_format(""));
  CHECK_FALSE(check_format("mlg_"));
  CHECK_FALSE(check_format(std::string(kKeyLen, '\0')));
  CHECK_FALSE(check_format(std::string(100000, 'a')));
  // A 41-character body whose own checksum follows: right alphabet, right
  // checksum of what is there, wrong length.
  CHECK_FALSE(check_format(with_checksum("mlg_", std::string(33, 'a'))));
}

TEST_CASE("a wrong prefix is refused even with a correct checksum") {
  std::string body(kKeyBodyLen, 'Q');
  REQUIRE(check_format(with_checksum("mlg_", body)));
  CHECK_FALSE(check_format(with_checksum("MLG_", body)));
  CHECK_FALSE(check_format(with_checksum("mlg-", body)));
  CHECK_FALSE(check_format(with_checksum("xlg_", body)));
  CHECK_FALSE(check_format(with_checksum("sk_a", body)));
}

TEST_CASE("a character outside base62 is refused even with a correct checksum") {
  for (char c : std::string("_-+/= .~\x01\x7f\x80\xc3\xff")) {
    std::string body(kKeyBodyLen, 'a');
    body[7] = c;
    CHECK_FALSE(check_format(with_checksum("mlg_", body)));
  }
  std::string body(kKeyBodyLen, 'a');
  body[3] = '\0';
  CHECK_FALSE(check_format(with_checksum("mlg_", body)));
  // And in the checksum itself: a base62 checksum can never hold '-'.
  std::string key = generate_api_key();
  key.back() = '-';
  CHECK_FALSE(check_format(key));
}

TEST_CASE("sha256 matches the FIPS 180-2 test vectors") {
  CHECK(hex(sha256("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(sha256("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("random_bytes fills the whole buffer, also for large requests") {
  std::string buf(1 << 20, '\0');
  random_bytes(buf.data(), buf.size());
  // 1 MiB of zeros after the call would mean a short fill; check each 4 KiB
  // page holds something (2^-32768 chance of a false failure per page).
  for (size_t off = 0; off < buf.size(); off += 4096)
    CHECK(std::any_of(buf.begin() + off, buf.begin() + off + 4096, [](char c) { return c != 0; }));
}
