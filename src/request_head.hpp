// request_head.hpp: the checks mlgate makes on a request head (request line
// and header lines) while it arrives, before the HTTP library parses it.
//
// What the caller may rely on
// - Pure and incremental: HeadScanner::scan is given every byte received for
//   the current request so far (the same bytes again plus any new ones) and
//   looks at each byte once, so a head trickled a byte at a time costs
//   linear time. check_head() is the one-shot form. The verdict depends on
//   the bytes only, never on how they were split into reads, and never on
//   a byte past max_bytes (fuzz/request_head.cpp checks both).
// - Refused with 431 as soon as the head passes HeadLimits::max_bytes or
//   max_fields, before more is read, so a flood of header bytes never grows
//   memory past the cap; 414 when the request line, 431 when a header line
//   passes max_line (the library's own limit per line: past it, it answers
//   400 in the middle of the head);
//   400 for anything the library would parse differently from a strict
//   reader: a line not ended by CRLF, a control character (NUL included)
//   in the request line or a header value, a header name that is not a
//   token (RFC 9110 5.6.2, so "Name : v" too), obsolete line folding, a
//   missing or repeated Host on HTTP/1.1 (RFC 9112 3.2), a method the
//   library does not know, a version other than HTTP/1.0 and HTTP/1.1.
// - One empty line before the request line is ignored (RFC 9112 2.2: some
//   clients send CRLF after a POST body); it is reported in `skip`.
// - Range fields are reported in `dropped` for the loop to remove before the
//   library parses the head: mlgate serves no ranges, and the library
//   parses Range with std::regex, whose matcher recurses per character (a
//   6 KB Range overflowed a 256 KiB connection thread stack).
// - A complete head reports what the connection loop needs: whether the
//   connection may serve another request (Connection tokens compared without
//   regard to case; HTTP/1.0 only with keep-alive), whether the client waits
//   for 100 Continue, and how many body bytes follow when that is certain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace mlgate {

struct HeadLimits {
  size_t max_bytes = 64 * 1024;    // request line, header lines and the blank line
  size_t max_fields = 100;         // header lines
  size_t max_line = 8192;          // one line, CRLF included (the library's limit)
};

struct HeadVerdict {
  enum class State { Incomplete, Complete, Refused };
  State state = State::Incomplete;
  int status = 0;            // Refused: 400, 414 or 431
  const char* detail = "";   // Refused: the text of the {"detail": ...} body
  size_t skip = 0;           // bytes of an ignored empty line before the head
  size_t length = 0;         // Complete: bytes of the head after `skip`, blank line included
  bool http10 = false;
  bool keep_alive = false;   // the connection may serve another request after this one
  bool expect_continue = false;
  // Lines to remove before the library sees the head: {offset, length}
  // from the start of the bytes scanned (CRLF included), in order.
  std::vector<std::pair<size_t, size_t>> dropped;
  // Body bytes that follow the head: 0 without Content-Length; nullopt when
  // the framing is not one valid Content-Length (Transfer-Encoding, two
  // lengths, a malformed one), so the connection must not be reused.
  std::optional<uint64_t> body_length;
};

class HeadScanner {
 public:
  explicit HeadScanner(const HeadLimits& limits = {}) : limits_(limits) {}
  // `bytes`: every byte received for this request so far, from its start.
  // Once the verdict is Complete or Refused it no longer changes.
  const HeadVerdict& scan(std::string_view bytes);
  void reset() { *this = HeadScanner(limits_); }

 private:
  void line(std::string_view text, size_t end);  // one complete line, CRLF removed
  void line_too_long();
  bool past_limit(size_t size);
  void request_line(std::string_view text);
  void header_line(std::string_view text, size_t end);
  void complete(size_t end);
  void refuse(int status, const char* detail);

  HeadLimits limits_;
  HeadVerdict v_;
  size_t pos_ = 0;         // bytes looked at
  size_t line_start_ = 0;  // start of the line being received
  size_t lines_ = 0;       // complete lines of the head (request line included)
  bool http11_ = false, close_token_ = false, keep_alive_token_ = false;
  bool transfer_encoding_ = false, bad_length_ = false;
  int hosts_ = 0, lengths_ = 0;
  uint64_t length_ = 0;
};

HeadVerdict check_head(std::string_view bytes, const HeadLimits& limits = {});

}  // namespace mlgate
