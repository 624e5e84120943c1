// redis_script.cpp: the Lua script that decides one request's checks in
// Redis (see redis_limiter.hpp), and its SHA-1 for EVALSHA.
#include <openssl/sha.h>

#include "hex.hpp"
#include "redis_limiter.hpp"

namespace mlgate {

namespace {

// Why relative time: Redis 7 runs Lua 5.1, whose numbers are doubles, exact
// for integers below 2^53. Unix time in nanoseconds (~1.7e18) is past that,
// so it never enters an arithmetic here: times are nanoseconds counted from
// `base`, the start of the current second, and a stored TAT is kept as
// "SECONDS:NANOSECONDS". Every difference the rule needs is at most a burst
// span (30 days, 2.6e15 ns) plus a second, so every step is exact and the
// comparison is the same one gcra_evaluate() makes on int64.
constexpr const char* kScript = R"lua(-- mlgate GCRA v1
-- KEYS[i]: the state of check i ("SECONDS:NANOSECONDS", the TAT).
-- ARGV[1], ARGV[2]: Unix seconds and nanoseconds to take as now, or "" for
-- Redis TIME. Then for check i: ARGV[3i] emission interval T (ns),
-- ARGV[3i+1] burst span B*T (ns), ARGV[3i+2] "1" to charge, "0" to peek.
-- Checks are decided in order; the first refusal ends the script.
-- Returns {now, allowed_1, tat_1, allowed_2, tat_2, ...} in ns after base.
local base, now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  base = tonumber(t[1])
  now = tonumber(t[2]) * 1000
else
  base = tonumber(ARGV[1])
  now = tonumber(ARGV[2])
end
local out = {now}
for i = 1, #KEYS do
  local T = tonumber(ARGV[3 * i])
  local span = tonumber(ARGV[3 * i + 1])
  local tat = now
  -- pcall: a key of another type (written by someone else) counts as absent
  local v = redis.pcall('GET', KEYS[i])
  if type(v) == 'string' then
    local s, ns = string.match(v, '^(%d+):(%d+)$')
    if s then
      local t = (tonumber(s) - base) * 1e9 + tonumber(ns)
      if t > tat then tat = t end
    end
  end
  local new_tat = tat + T
  local allowed = now >= new_tat - span
  out[#out + 1] = allowed and 1 or 0
  out[#out + 1] = tat
  if not allowed then break end
  if ARGV[3 * i + 2] == '1' then
    local q = math.floor(new_tat / 1e9)
    local r = new_tat - q * 1e9
    if r < 0 then q = q - 1; r = r + 1e9 elseif r >= 1e9 then q = q + 1; r = r - 1e9 end
    -- expires when the budget is full again: a missing key means exactly that
    redis.call('SET', KEYS[i], string.format('%d:%d', base + q, r), 'PXAT',
               string.format('%d', (base + q) * 1000 + math.ceil(r / 1e6)))
  end
end
return out
)lua";

}  // namespace

const std::string& redis_gcra_script() {
  static const std::string s = kScript;
  return s;
}

const std::string& redis_gcra_sha() {
  static const std::string sha = [] {
    unsigned char md[SHA_DIGEST_LENGTH];
    const std::string& s = redis_gcra_script();
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
    return to_hex(md, sizeof md);
  }();
  return sha;
}

}  // namespace mlgate
