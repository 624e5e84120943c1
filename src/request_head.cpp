#include "request_head.hpp"

#include <algorithm>
#include <cstring>

#include "ascii.hpp"

namespace mlgate {
namespace {

bool is_token_char(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The methods cpp-httplib 0.11.4 accepts; it answers 400 to any other, after
// reading only the request line, which would leave the rest of the head to
// be parsed as another request.
bool library_knows(std::string_view method) {
  for (const char* m : {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                        "PATCH", "PRI"})
    if (method == m) return true;
  return false;
}

}  // namespace

const HeadVerdict& HeadScanner::scan(std::string_view b) {
  while (v_.state == HeadVerdict::State::Incomplete && pos_ < b.size()) {
    const void* nl = std::memchr(b.data() + pos_, '\n', b.size() - pos_);
    if (!nl) {
      pos_ = b.size();
      break;
    }
    size_t at = static_cast<size_t>(static_cast<const char*>(nl) - b.data());
    // Had fewer bytes arrived, a limit would have refused the head before
    // this line's end was seen: refuse as that scan would, so the verdict
    // does not depend on how the bytes were split into reads.
    if (past_limit(at)) break;
    pos_ = at + 1;
    // The library skips a line that ends in a bare LF and keeps reading;
    // a proxy in front may not. Either way the two would disagree.
    if (at == line_start_ || b[at - 1] != '\r') {
      refuse(400, "A line of the request head does not end with CRLF");
      break;
    }
    if (pos_ - v_.skip > limits_.max_bytes) {
      refuse(431, "Request head too large");
      break;
    }
    if (pos_ - line_start_ > limits_.max_line) {
      line_too_long();
      break;
    }
    line(b.substr(line_start_, at - 1 - line_start_), pos_);
    line_start_ = pos_;
  }
  if (v_.state == HeadVerdict::State::Incomplete) past_limit(b.size());
  return v_;
}

// The limits on a head still arriving, given its first `size` bytes and no
// line end after line_start_: refuses and returns true when one is passed.
// Of two limits passed, the one a byte-at-a-time scan reaches first wins.
bool HeadScanner::past_limit(size_t size) {
  const size_t bytes_at = v_.skip + limits_.max_bytes + 1;  // size that passes max_bytes
  const size_t line_at = line_start_ + limits_.max_line + 1;
  if (size < std::min(bytes_at, line_at)) return false;
  if (bytes_at <= line_at) refuse(431, "Request head too large");
  else line_too_long();
  return true;
}

void HeadScanner::line_too_long() {
  if (lines_ == 0) refuse(414, "Request URI too long");
  else refuse(431, "A request header line is too long");
}

void HeadScanner::line(std::string_view text, size_t end) {
  if (lines_ == 0) {
    if (text.empty() && line_start_ == 0) {
      v_.skip = end;  // one empty line before the request line
      return;
    }
    request_line(text);
  } else if (text.empty()) {
    complete(end);
  } else if (lines_ > limits_.max_fields) {
    refuse(431, "Too many request headers");
  } else {
    header_line(text, end);
  }
  ++lines_;
}

void HeadScanner::request_line(std::string_view text) {
  size_t sp1 = text.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || text.find(' ', sp2 + 1) != std::string_view::npos)
    return refuse(400, "Malformed request line");
  std::string_view method = text.substr(0, sp1);
  std::string_view target = text.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = text.substr(sp2 + 1);
  if (!library_knows(method)) return refuse(400, "Unknown method");
  if (target.empty()) return refuse(400, "Malformed request line");
  for (unsigned char c : target)
    if (c < 0x21 || c == 0x7f) return refuse(400, "Control character in the request target");
  if (version == "HTTP/1.1") http11_ = true;
  else if (version != "HTTP/1.0") refuse(400, "Unsupported HTTP version");
}

void HeadScanner::header_line(std::string_view text, size_t end) {
  // RFC 9112 5.2: obsolete line folding is refused, not unfolded.
  if (text[0] == ' ' || text[0] == '\t') return refuse(400, "Obsolete line folding in the request head");
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) return refuse(400, "Malformed header line");
  std::string_view name = text.substr(0, colon);
  // RFC 9112 5.1: whitespace between a field name and its colon must be
  // refused; a lenient proxy may read "Transfer-Encoding : chunked" as the
  // framing the library does not see.
  if (!is_token(name)) return refuse(400, "Malformed header name");
  std::string_view raw = text.substr(colon + 1);
  for (unsigned char c : raw)
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return refuse(400, "Control character in a header value");
  std::string_view value = trim_ows(raw);
  if (ascii_iequals(name, "Host")) {
    ++hosts_;
  } else if (ascii_iequals(name, "Connection")) {
    while (!value.empty()) {  // a comma-separated list of tokens, any case
      size_t comma = value.find(',');
      std::string_view token = trim_ows(value.substr(0, comma));
      if (ascii_iequals(token, "close")) close_token_ = true;
      if (ascii_iequals(token, "keep-alive")) keep_alive_token_ = true;
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    }
  } else if (ascii_iequals(name, "Expect")) {
    if (ascii_iequals(value, "100-continue")) v_.expect_continue = true;
  } else if (ascii_iequals(name, "Content-Length")) {
    ++lengths_;
    if (value.empty() || value.size() > 18) bad_length_ = true;
    for (char c : value) {
      if (c < '0' || c > '9') {
        bad_length_ = true;
        break;
      }
      length_ = length_ * 10 + static_cast<uint64_t>(c - '0');
    }
  } else if (ascii_iequals(name, "Transfer-Encoding")) {
    transfer_encoding_ = true;
  } else if (ascii_iequals(name, "Range")) {
    v_.dropped.emplace_back(line_start_, end - line_start_);
  }
}

void HeadScanner::complete(size_t end) {
  if (http11_ ? hosts_ != 1 : hosts_ > 1)
    return refuse(400, "An HTTP/1.1 request needs exactly one Host header");
  v_.state = HeadVerdict::State::Complete;
  v_.length = end - v_.skip;
  v_.http10 = !http11_;
  v_.keep_alive = !close_token_ && (http11_ || keep_alive_token_);
  if (!transfer_encoding_ && !bad_length_ && lengths_ <= 1) v_.body_length = length_;
}

void HeadScanner::refuse(int status, const char* detail) {
  v_.state = HeadVerdict::State::Refused;
  v_.status = status;
  v_.detail = detail;
}

HeadVerdict check_head(std::string_view bytes, const HeadLimits& limits) {
  HeadScanner s(limits);
  return s.scan(bytes);
}

}  // namespace mlgate
