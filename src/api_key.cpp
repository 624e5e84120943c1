#include "api_key.hpp"

#include <openssl/evp.h>
#include <sys/random.h>
#include <zlib.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mlgate {
namespace {

constexpr char kAlphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Uniform base62 characters: bytes >= 248 are rejected rather than reduced
// modulo 62, which would favour the first 8 characters.
std::string random_base62(size_t n) {
  std::string out;
  out.reserve(n);
  uint8_t buf[64];
  while (out.size() < n) {
    random_bytes(buf, sizeof buf);
    for (uint8_t b : buf) {
      if (b < 248 && out.size() < n) out.push_back(kAlphabet[b % 62]);
    }
  }
  return out;
}

// Branch-free membership test for the base62 alphabet.
unsigned is_base62(unsigned char c) {
  unsigned digit = (unsigned)(c - '0') < 10;
  unsigned upper = (unsigned)(c - 'A') < 26;
  unsigned lower = (unsigned)(c - 'a') < 26;
  return digit | upper | lower;
}

}  // namespace

void random_bytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "getrandom");
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

std::string key_checksum(std::string_view body) {
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()),
                    static_cast<uInt>(body.size()));
  // 62^6 > 2^32, so six characters hold any CRC-32 value.
  std::string out(kKeyChecksumLen, '0');
  for (size_t i = kKeyChecksumLen; i-- > 0;) {
    out[i] = kAlphabet[crc % 62];
    crc /= 62;
  }
  return out;
}

std::string generate_api_key() {
  std::string body = random_base62(kKeyBodyLen);
  return std::string(kKeyPrefix) + body + key_checksum(body);
}

std::string generate_key_id() { return "key_" + random_base62(10); }

bool check_format(std::string_view key) {
  // Work on a fixed-size copy so that every input costs the same: a short or
  // long input is padded or cut, and its wrong length is remembered.
  char buf[kKeyLen];
  unsigned bad = key.size() != kKeyLen;
  for (size_t i = 0; i < kKeyLen; ++i) buf[i] = i < key.size() ? key[i] : '\0';
  for (size_t i = 0; i < kKeyPrefix.size(); ++i) bad |= buf[i] ^ kKeyPrefix[i];
  for (size_t i = kKeyPrefix.size(); i < kKeyLen; ++i)
    bad |= !is_base62(static_cast<unsigned char>(buf[i]));
  std::string want = key_checksum(std::string_view(buf + 4, kKeyBodyLen));
  for (size_t i = 0; i < kKeyChecksumLen; ++i)
    bad |= want[i] ^ buf[4 + kKeyBodyLen + i];
  return bad == 0;
}

KeyHash sha256(std::string_view data) {
  KeyHash h{};
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), h.data(), &len, EVP_sha256(), nullptr))
    throw std::runtime_error("SHA-256 failed");
  return h;
}

}  // namespace mlgate
