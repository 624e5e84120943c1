// Unit tests for request_head.hpp: the checks on a request head made while
// it arrives, before the HTTP library parses it.
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "request_head.hpp"

using namespace mlgate;
using State = HeadVerdict::State;

namespace {

const std::string kGet = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

int refused_status(const std::string& bytes, const HeadLimits& limits = {}) {
  HeadVerdict v = check_head(bytes, limits);
  CHECK_MESSAGE(v.state == State::Refused, bytes);
  return v.status;
}

HeadVerdict complete(const std::string& bytes) {
  HeadVerdict v = check_head(bytes);
  REQUIRE_MESSAGE(v.state == State::Complete, bytes << " -> " << v.detail);
  return v;
}

}  // namespace

TEST_CASE("a complete head reports its length, and what follows it is not looked at") {
  HeadVerdict v = check_head(kGet + "GARBAGE\r\n\r\n");
  REQUIRE(v.state == State::Complete);
  CHECK(v.length == kGet.size());
  CHECK(v.skip == 0);
  CHECK(v.keep_alive);
  CHECK_FALSE(v.http10);
  CHECK(v.body_length == 0u);
}

TEST_CASE("every prefix of a head is incomplete, and feeding it a byte at a time gives the same verdict") {
  std::string head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nExpect: 100-continue\r\n\r\n";
  for (size_t n = 0; n < head.size(); ++n) CHECK(check_head(head.substr(0, n)).state == State::Incomplete);
  HeadScanner s;
  for (size_t n = 1; n <= head.size(); ++n) s.scan(std::string_view(head).substr(0, n));
  const HeadVerdict& v = s.scan(head);
  REQUIRE(v.state == State::Complete);
  CHECK(v.length == head.size());
  CHECK(v.expect_continue);
  CHECK(v.body_length == 12u);
}

TEST_CASE("one empty line before the request line is skipped, a second is a malformed request line") {
  HeadVerdict v = check_head("\r\n" + kGet);
  REQUIRE(v.state == State::Complete);
  CHECK(v.skip == 2);
  CHECK(v.length == kGet.size());
  CHECK(refused_status("\r\n\r\n") == 400);
}

TEST_CASE("the head is refused 431 as soon as it passes the byte cap, before its end arrives") {
  HeadLimits l;
  l.max_bytes = 1024;
  std::string partial = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(1024, 'a');
  CHECK(refused_status(partial, l) == 431);
  // Exactly at the cap is allowed; one byte more is not.
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  head += std::string(1024 - head.size() - 4, 'a') + "\r\n\r\n";
  REQUIRE(head.size() == 1024);
  CHECK(check_head(head, l).state == State::Complete);
  head.insert(head.size() - 4, "a");
  CHECK(refused_status(head, l) == 431);
}

TEST_CASE("the 101st header line is refused 431 at once, the 100th is not") {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 1; i < 100; ++i) head += "X-H" + std::to_string(i) + ": v\r\n";
  CHECK(check_head(head + "\r\n").state == State::Complete);
  CHECK(refused_status(head + "X-Extra: v\r\n") == 431);  // no blank line needed
}

TEST_CASE("a header line past the library's 8 KiB line limit is 431, even before it ends") {
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
  CHECK(check_head(head + std::string(8192 - 9, 'p') + "\r\n\r\n").state == State::Complete);
  CHECK(refused_status(head + std::string(8192 - 8, 'p') + "\r\n\r\n") == 431);
  CHECK(refused_status(head + std::string(9000, 'p')) == 431);
}

TEST_CASE("a malformed line end past a limit gets the limit's answer, however the bytes arrive") {
  // A byte-at-a-time read refuses at the limit before the bare LF arrives;
  // one read holding it all must answer the same (found by fuzz/request_head).
  HeadLimits small;
  small.max_bytes = 48;
  const std::string past_bytes = "GET / HTTP/1.1\r\nX: " + std::string(60, 'a') + "\n\r\n";
  CHECK(refused_status(past_bytes, small) == 431);
  const std::string past_line = "GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(9000, 'a') + "\n\r\n";
  CHECK(refused_status(past_line) == 431);
  CHECK(refused_status("GET /" + std::string(9000, 'a') + "\n") == 414);
  for (const std::string& bytes : {past_bytes, past_line}) {
    const HeadLimits& limits = bytes == past_bytes ? small : HeadLimits{};
    HeadScanner s(limits);
    HeadVerdict v;
    for (size_t n = 1; n <= bytes.size() && v.state == State::Incomplete; ++n)
      v = s.scan(std::string_view(bytes).substr(0, n));
    CHECK(v.status == check_head(bytes, limits).status);
    CHECK(std::string(v.detail) == check_head(bytes, limits).detail);
  }
}

TEST_CASE("a request line past the library's URI limit is 414 even before it ends") {
  CHECK(refused_status("GET /" + std::string(9000, 'a')) == 414);
  CHECK(refused_status("GET /" + std::string(8180, 'a') + " HTTP/1.1\r\n") == 414);
  CHECK(check_head("GET /" + std::string(8170, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n").state ==
        State::Complete);
}

TEST_CASE("malformed request lines are refused 400") {
  for (const std::string& line : std::initializer_list<std::string>{"GARBAGE", "GET /", "GET / HTTP/1.1 extra", "GET  / HTTP/1.1", "FOO / HTTP/1.1",
        "GET / HTTP/9.9", "GET / HTTP/2.0", "get / HTTP/1.1", std::string("GET /\0 HTTP/1.1", 16),
        "GET /\x7f HTTP/1.1", "GET /a\tb HTTP/1.1"}) {
    CAPTURE(line);
    CHECK(refused_status(line + "\r\nHost: x\r\n\r\n") == 400);
  }
}

TEST_CASE("lines must end with CRLF: a bare LF or a lone CR is refused") {
  CHECK(refused_status("GET / HTTP/1.1\nHost: x\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\r\n\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n") == 400);
}

TEST_CASE("control characters in a header value are refused; tab and obs-text are not") {
  for (char c : {'\0', '\x01', '\x1b', '\x7f'}) {
    std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-A: a";
    head += c;
    head += "b\r\n\r\n";
    CAPTURE(static_cast<int>(c));
    CHECK(refused_status(head) == 400);
  }
  CHECK(complete("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\tb \xc3\xa9\r\n\r\n").length > 0);
}

TEST_CASE("header names must be tokens; folding and lines without a colon are refused") {
  CHECK(refused_status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\r\nX(a): v\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\r\nX-A: v\r\n folded\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n") == 400);
}

TEST_CASE("HTTP/1.1 needs exactly one Host; HTTP/1.0 at most one") {
  CHECK(refused_status("GET / HTTP/1.1\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
  CHECK(refused_status("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
  CHECK(complete("GET / HTTP/1.0\r\n\r\n").http10);
  CHECK(complete("GET / HTTP/1.1\r\nhOsT: \r\n\r\n").length > 0);  // empty Host is allowed
}

TEST_CASE("Connection tokens decide keep-alive in any case, in a list, over several lines") {
  CHECK_FALSE(complete("GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n").keep_alive);
  CHECK_FALSE(complete("GET / HTTP/1.1\r\nHost: x\r\nconnection: te, Close\r\n\r\n").keep_alive);
  CHECK_FALSE(complete("GET / HTTP/1.1\r\nHost: x\r\nConnection: te\r\nConnection: close\r\n\r\n").keep_alive);
  CHECK(complete("GET / HTTP/1.1\r\nHost: x\r\nConnection: closed\r\n\r\n").keep_alive);
  CHECK_FALSE(complete("GET / HTTP/1.0\r\n\r\n").keep_alive);
  for (const char* v : {"keep-alive", "Keep-Alive", "KEEP-ALIVE", "te , keep-alive"}) {
    CAPTURE(v);
    CHECK(complete(std::string("GET / HTTP/1.0\r\nConnection: ") + v + "\r\n\r\n").keep_alive);
  }
  CHECK_FALSE(complete("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

TEST_CASE("Expect: 100-continue is recognised in any case, other expectations are not") {
  CHECK(complete("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
  CHECK_FALSE(complete("POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n").expect_continue);
}

TEST_CASE("Range fields are reported for removal, with their offsets") {
  std::string a = "GET / HTTP/1.1\r\nHost: x\r\n";
  std::string r1 = "Range: bytes=0-1\r\n", r2 = "range: " + std::string(6000, ',') + "\r\n";
  HeadVerdict v = complete("\r\n" + a + r1 + "X: y\r\n" + r2 + "\r\n");
  REQUIRE(v.dropped.size() == 2);
  CHECK(v.dropped[0] == std::pair<size_t, size_t>{2 + a.size(), r1.size()});
  CHECK(v.dropped[1] == std::pair<size_t, size_t>{2 + a.size() + r1.size() + 6, r2.size()});
  CHECK(complete(kGet).dropped.empty());
}

TEST_CASE("the body length is known only for one valid Content-Length and no Transfer-Encoding") {
  CHECK(complete("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 42\r\n\r\n").body_length == 42u);
  CHECK(complete("GET / HTTP/1.1\r\nHost: x\r\n\r\n").body_length == 0u);
  for (const char* extra : {"Content-Length: 1\r\nContent-Length: 1\r\n", "Content-Length: +1\r\n",
                            "Content-Length: \r\n", "Content-Length: 1, 1\r\n",
                            "Content-Length: 1234567890123456789\r\n",
                            "Transfer-Encoding: chunked\r\n",
                            "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n"}) {
    CAPTURE(extra);
    CHECK_FALSE(complete(std::string("POST / HTTP/1.1\r\nHost: x\r\n") + extra + "\r\n").body_length);
  }
}
