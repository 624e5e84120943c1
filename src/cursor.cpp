#include "cursor.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "api_key.hpp"

namespace mlgate {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr size_t kCursorLen = 22;  // 16 bytes, 6 bits a character

using Block = std::array<uint8_t, 16>;

// One AES-128 block, no mode around it: the plaintext is a single block, and
// its second half is redundancy that decode() checks (encode-then-encipher).
Block aes_block(const CursorKey& key, const Block& in, bool encrypt) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                       EVP_CIPHER_CTX_free);
  Block out{};
  int n = 0;
  if (!ctx ||
      !EVP_CipherInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, key.data(), nullptr, encrypt) ||
      !EVP_CIPHER_CTX_set_padding(ctx.get(), 0) ||
      !EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) ||
      n != static_cast<int>(out.size()))
    throw std::runtime_error("AES failed");
  return out;
}

// The second half of the plaintext: binds a cursor to its owner.
void owner_tag(std::string_view owner, uint8_t* out8) {
  KeyHash h = sha256(owner);
  std::memcpy(out8, h.data(), 8);
}

int b64_value(char c) {
  const char* p = std::strchr(kB64, c);
  return c != '\0' && p ? static_cast<int>(p - kB64) : -1;
}

}  // namespace

std::string CursorCodec::encode(int64_t seq, std::string_view owner) const {
  Block plain{};
  const auto v = static_cast<uint64_t>(seq);
  for (int i = 0; i < 8; ++i) plain[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  owner_tag(owner, plain.data() + 8);
  Block c = aes_block(key_, plain, true);
  std::string out;
  out.reserve(kCursorLen);
  // 128 bits as 22 characters: 21 full sextets, then the last 2 bits.
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : c) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 63]);
    }
  }
  out.push_back(kB64[(acc << (6 - bits)) & 63]);
  return out;
}

std::optional<int64_t> CursorCodec::decode(std::string_view cursor, std::string_view owner) const {
  if (cursor.size() != kCursorLen) return std::nullopt;
  Block c{};
  uint32_t acc = 0;
  int bits = 0;
  size_t k = 0;
  for (char ch : cursor) {
    int v = b64_value(ch);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (k < c.size()) c[k++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // The last character carries 2 bits; its other 4 must be zero, so each
  // cursor has exactly one spelling.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  Block plain = aes_block(key_, c, false);
  uint8_t want[8];
  owner_tag(owner, want);
  if (CRYPTO_memcmp(want, plain.data() + 8, 8) != 0) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | plain[i];
  if (v == 0 || v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace mlgate
