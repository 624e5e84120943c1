// api_key.hpp: the API key format, its checksum, and its hash.
//
// A key is "mlg_" + 32 base62 characters (190 bits from getrandom) + a
// 6-character base62 checksum (CRC-32 of the body). The fixed prefix lets
// secret scanners find leaked keys; the checksum lets the server refuse a
// mistyped or invented key without touching storage.
//
// Contract: check_format() does the same work for every input of any length
// (no early exit whose timing tells how close a guess was). Only sha256() of
// a key is ever stored.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlgate {

inline constexpr std::string_view kKeyPrefix = "mlg_";
inline constexpr size_t kKeyBodyLen = 32;
inline constexpr size_t kKeyChecksumLen = 6;
inline constexpr size_t kKeyLen = 4 + kKeyBodyLen + kKeyChecksumLen;  // 42

using KeyHash = std::array<uint8_t, 32>;

// A new key from the OS's random source. Throws std::system_error if the
// OS has no randomness to give (never falls back to a weak source).
std::string generate_api_key();

// A short public identifier for a key record ("key_" + 10 base62 chars).
std::string generate_key_id();

// Prefix, length, alphabet and checksum, in constant time for any input.
bool check_format(std::string_view key);

KeyHash sha256(std::string_view data);

// The checksum characters for a 32-character body (exposed for tests).
std::string key_checksum(std::string_view body);

// Fills `out` with cryptographically random bytes (getrandom).
void random_bytes(void* out, size_t n);

}  // namespace mlgate
