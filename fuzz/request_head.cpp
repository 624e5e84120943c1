// Fuzz target: the request head as the connection loop reads it
// (HeadScanner, request_head.hpp), fed in arbitrary pieces.
// Input: two bytes that choose the limits (max_bytes 16..1039, max_fields
// 0..15, max_line 8..519) and one byte that seeds the chunking, then the
// bytes as they arrive on the connection.
// Properties:
// - the verdict is the same whatever the chunking: all at once, a byte at a
//   time, and pieces of sizes drawn from the seed;
// - a verdict never depends on bytes past the limit: the bytes cut to
//   max_bytes + 3 (the limit, one ignored empty line and one byte more)
//   give the same verdict;
// - a refusal has one of the statuses 400, 414, 431 and a detail; a
//   complete head lies within the bytes and the limit, ends with an empty
//   line, and its dropped (Range) lines are whole header lines inside it;
// - an accepted head re-parses to the same fields: read by an independent
//   splitter (request line, then "name: value" lines) it has a known
//   method, HTTP/1.0 or 1.1, token names, the Host count the rule needs,
//   and the Content-Length the verdict reports; rebuilt from those fields
//   with the dropped lines left out, it is accepted again with the same
//   length, keep-alive, 100-continue and body length.
// fuzz-dict: http
// fuzz-max-len: 2048
#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "request_head.hpp"

namespace {

using mlgate::HeadLimits;
using mlgate::HeadScanner;
using mlgate::HeadVerdict;
using State = HeadVerdict::State;

bool same(const HeadVerdict& a, const HeadVerdict& b) {
  return a.state == b.state && a.status == b.status && std::strcmp(a.detail, b.detail) == 0 &&
         a.skip == b.skip && a.length == b.length && a.http10 == b.http10 &&
         a.keep_alive == b.keep_alive && a.expect_continue == b.expect_continue &&
         a.dropped == b.dropped && a.body_length == b.body_length;
}

// Feeds `bytes` in pieces whose sizes `next_piece` gives, as the loop does:
// each call sees everything received so far. Stops at a final verdict.
template <typename F>
HeadVerdict chunked(std::string_view bytes, const HeadLimits& limits, F next_piece) {
  HeadScanner s(limits);
  size_t have = 0;
  for (;;) {
    have = std::min(bytes.size(), have + next_piece());
    const HeadVerdict& v = s.scan(bytes.substr(0, have));
    if (v.state != State::Incomplete || have == bytes.size()) return v;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && (c == 0 || !std::strchr("!#$%&'*+-.^_`|~", c))) return false;
  }
  return true;
}

// One Content-Length value as RFC 9110 8.6 allows it (1 to 18 digits here).
std::optional<uint64_t> length_value(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// The accepted head `head` (from the request line to the empty line),
// re-read independently; `dropped`: offsets of Range lines within it.
void reparse(std::string_view head, const HeadVerdict& v, const HeadLimits& limits,
             const std::vector<std::pair<size_t, size_t>>& dropped) {
  FUZZ_CHECK(head.size() >= 4 && head.substr(head.size() - 4) == "\r\n\r\n");
  std::vector<std::string_view> lines;
  size_t at = 0;
  while (at < head.size()) {
    const size_t end = head.find("\r\n", at);
    FUZZ_CHECK(end != std::string_view::npos);
    lines.push_back(head.substr(at, end - at));
    at = end + 2;
  }
  FUZZ_CHECK(lines.size() >= 2 && lines.back().empty());
  lines.pop_back();
  const std::string_view rl = lines[0];
  const size_t sp1 = rl.find(' '), sp2 = rl.rfind(' ');
  FUZZ_CHECK(sp1 != std::string_view::npos && sp2 != sp1);
  const std::string_view method = rl.substr(0, sp1), version = rl.substr(sp2 + 1);
  FUZZ_CHECK(token(method));
  FUZZ_CHECK(version == "HTTP/1.1" || version == "HTTP/1.0");
  FUZZ_CHECK(v.http10 == (version == "HTTP/1.0"));

  std::string rebuilt = std::string(rl) + "\r\n";
  int hosts = 0, lengths = 0;
  bool chunked_or_other = false;
  std::optional<uint64_t> length = 0;
  size_t line_at = lines[0].size() + 2;
  size_t next_drop = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':');
    FUZZ_CHECK(colon != std::string_view::npos);
    const std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    FUZZ_CHECK(token(name));
    const bool is_range = iequals(name, "Range");
    if (is_range) {  // the verdict names this very line, CRLF included
      FUZZ_CHECK(next_drop < dropped.size());
      FUZZ_CHECK(dropped[next_drop] == std::make_pair(line_at, line.size() + 2));
      ++next_drop;
    }
    line_at += line.size() + 2;
    if (iequals(name, "Host")) ++hosts;
    if (iequals(name, "Content-Length") && ++lengths == 1) length = length_value(value);
    if (iequals(name, "Transfer-Encoding")) chunked_or_other = true;
    if (!is_range) rebuilt += std::string(name) + ": " + std::string(value) + "\r\n";
  }
  FUZZ_CHECK(next_drop == dropped.size());
  FUZZ_CHECK(version == "HTTP/1.1" ? hosts == 1 : hosts <= 1);
  if (lengths > 1 || chunked_or_other) length = std::nullopt;
  FUZZ_CHECK(v.body_length == length);
  rebuilt += "\r\n";

  // Rebuilt: no longer than before (OWS trimmed, Range gone), so within the
  // same limits; accepted again with the same fields.
  HeadLimits roomy = limits;
  roomy.max_bytes = std::max(limits.max_bytes, rebuilt.size());
  roomy.max_line = std::max(limits.max_line, rebuilt.size());
  const HeadVerdict again = mlgate::check_head(rebuilt, roomy);
  FUZZ_CHECK(again.state == State::Complete);
  FUZZ_CHECK(again.skip == 0 && again.length == rebuilt.size());
  FUZZ_CHECK(again.dropped.empty());
  FUZZ_CHECK(again.http10 == v.http10 && again.keep_alive == v.keep_alive);
  FUZZ_CHECK(again.expect_continue == v.expect_continue);
  FUZZ_CHECK(again.body_length == v.body_length);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  HeadLimits limits;
  limits.max_bytes = 16 + (static_cast<size_t>(data[0]) << 2);
  limits.max_fields = data[1] & 0x0f;
  limits.max_line = 8 + (static_cast<size_t>(data[1] >> 4) << 5) + (data[0] & 0x1f);
  uint32_t seed = data[2] * 2654435761u + 1;
  const std::string_view bytes = fuzz::as_text(data + 3, size - 3);

  const HeadVerdict whole = mlgate::check_head(bytes, limits);
  FUZZ_CHECK(same(whole, chunked(bytes, limits, [] { return size_t{1}; })));
  FUZZ_CHECK(same(whole, chunked(bytes, limits, [&] {
                    seed = seed * 1103515245u + 12345u;
                    return size_t{1} + (seed >> 16) % 64;
                  })));
  const size_t cut = std::min(bytes.size(), limits.max_bytes + 3);
  FUZZ_CHECK(same(whole, mlgate::check_head(bytes.substr(0, cut), limits)));

  switch (whole.state) {
    case State::Incomplete:
      FUZZ_CHECK(bytes.size() <= whole.skip + limits.max_bytes);
      break;
    case State::Refused:
      FUZZ_CHECK(whole.status == 400 || whole.status == 414 || whole.status == 431);
      FUZZ_CHECK(*whole.detail != '\0');
      break;
    case State::Complete: {
      FUZZ_CHECK(whole.skip == 0 || whole.skip == 2);
      FUZZ_CHECK(whole.length <= limits.max_bytes);
      FUZZ_CHECK(whole.skip + whole.length <= bytes.size());
      std::vector<std::pair<size_t, size_t>> dropped;
      for (const auto& [off, len] : whole.dropped) {
        FUZZ_CHECK(off >= whole.skip && off + len <= whole.skip + whole.length);
        dropped.emplace_back(off - whole.skip, len);
      }
      reparse(bytes.substr(whole.skip, whole.length), whole, limits, dropped);
      break;
    }
  }
  return 0;
}
