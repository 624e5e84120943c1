// The holes of cpp-httplib 0.11.4 (DESIGN.md, "known holes"), each
// reproduced against the real binary with raw bytes or httplib::Client.
// Every response any test here receives is also checked for the exception
// leak (no EXCEPTION_WHAT header) and for the error body contract
// ({"detail": ...} JSON on every 4xx/5xx).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "harness_wire.hpp"

using namespace e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The exception leak and the error body contract, on every response.
void check_hygiene(int status, bool exception_header, const std::string& content_type,
                   const std::string& body) {
  CHECK_FALSE(exception_header);
  if (status >= 400 && !body.empty()) {
    CHECK(content_type.rfind("application/json", 0) == 0);
    auto j = json::parse(body, nullptr, false);
    CHECK_MESSAGE((j.is_object() && j.contains("detail")), body);
  }
}
void check_hygiene(const Reply& r) {
  check_hygiene(r.status, r.has("EXCEPTION_WHAT"), r.get("Content-Type"), r.body);
}
void check_hygiene(const httplib::Result& r) {
  if (!r) return;
  check_hygiene(r->status, r->has_header("EXCEPTION_WHAT"), r->get_header_value("Content-Type"),
                r->body);
}

// A raw client connection whose replies are all checked for hygiene.
class RawConn : public WireConn {
 public:
  using WireConn::WireConn;
  std::vector<Reply> replies() const {
    auto rs = WireConn::replies();
    for (auto& r : rs) check_hygiene(r);
    CHECK(lower(received()).find("exception_what") == std::string::npos);
    return rs;
  }
};

// Sends `bytes` on a fresh connection; returns what came back (checked).
std::vector<Reply> fresh_exchange(int port, const std::string& bytes, bool* closed = nullptr) {
  RawConn c(port);
  c.send(bytes);
  c.read_until_quiet();
  if (closed) *closed = c.closed();
  return c.replies();
}

bool healthy(const ServerProc& s) {
  auto c = s.client();
  auto r = c.Get("/health");
  check_hygiene(r);
  return r && r->status == 200;
}

const std::string kHidden = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

std::string post_head_at(const std::string& path, size_t length, const std::string& extra = "",
                      const std::string& type = "application/json") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(length) + "\r\n" + extra + "\r\n";
}

// The smuggling probe: a request refused on its headers, whose body (a
// complete request) arrives after them, either in the same write or once the
// server has had time to answer. Exactly one response must come back, and
// the hidden request must never be served: either the connection is closed
// after the refusal, or the server drained the body (DESIGN.md allows either)
// and the connection is still in step: a next request gets exactly its own
// answer. `expected_status` 0: any 4xx.
void check_refusal(const std::vector<Reply>& rs, int expected_status) {
  REQUIRE(rs.size() >= 1);
  if (expected_status) CHECK(rs[0].status == expected_status);
  else CHECK(rs[0].status / 100 == 4);
  CHECK(rs.size() == 1);
}
void check_closed_or_in_step(RawConn& c) {
  if (c.closed()) return;
  c.clear();
  c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  c.read_replies(1, 5s);
  c.read_until_quiet(500ms);
  auto rs = c.replies();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].status == 200);
}
void check_not_smuggled(int port, const std::string& head, const std::string& body,
                        int expected_status) {
  SUBCASE("body in the same write as the headers") {
    RawConn c(port);
    c.send(head + body);
    c.read_replies(2, 3s);
    c.read_until_quiet(1500ms);
    check_refusal(c.replies(), expected_status);
    check_closed_or_in_step(c);
  }
  SUBCASE("body sent after a pause") {
    RawConn c(port);
    c.send(head);
    // A server that refuses at once answers now; one that drains waits.
    bool early = c.read_replies(1, 1000ms);
    c.send(body);
    c.read_replies(early ? 2 : 1, 3s);
    c.read_until_quiet(1500ms);
    check_refusal(c.replies(), expected_status);
    if (early) CHECK(c.closed());  // answered before the body: must not read it as a request
    else check_closed_or_in_step(c);
  }
}

// Waits until the access log holds at least `n` request lines.
std::string wait_log_requests(const ServerProc& s, size_t n) {
  auto deadline = Clock::now() + 5s;
  std::string log;
  for (;;) {
    log = s.log();
    size_t count = 0;
    for (size_t p = 0; (p = log.find("\"msg\":\"request\"", p)) != std::string::npos; ++p) ++count;
    if (count >= n || Clock::now() > deadline) return log;
    std::this_thread::sleep_for(20ms);
  }
}

std::vector<json> log_lines(const std::string& log) {
  std::vector<json> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    CHECK_MESSAGE(j.is_object(), "log line is not a JSON object: " << line);
    out.push_back(j);
  }
  return out;
}

size_t jobs_stored(ServerProc& s, const std::string& key) {
  auto c = s.client();
  auto r = c.Get("/jobs", {{"X-API-Key", key}});
  check_hygiene(r);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body)["jobs"].size();
}

const std::string kJobBody = R"({"text":"This is a perfectly good text to classify"})";

}  // namespace

// ---- request smuggling after a refusal ---------------------------------------

TEST_CASE("smuggling: a POST refused 401 (no key) never serves the request in its body") {
  ServerProc s;
  check_not_smuggled(s.port(), post_head_at("/predict", kHidden.size()), kHidden, 401);
}

TEST_CASE("smuggling: a POST refused 429 never serves the request in its body") {
  ServerProc s({"--limit-ip", "1/min"});
  auto c = s.client();
  bool limited = false;
  for (int i = 0; i < 3 && !limited; ++i) {
    auto r = c.Get("/");  // /health is outside the per-address limit
    check_hygiene(r);
    limited = r && r->status == 429;
  }
  REQUIRE(limited);
  check_not_smuggled(s.port(), post_head_at("/predict", kHidden.size()), kHidden, 429);
}

TEST_CASE("smuggling: a POST refused 415 never serves the request in its body") {
  ServerProc s;
  check_not_smuggled(s.port(), post_head_at("/predict", kHidden.size(), "", "text/plain"), kHidden,
                     415);
}

TEST_CASE("smuggling: a GET with a Content-Length body is refused and its body never served") {
  ServerProc s;
  std::string hidden = "GET /jobs HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string head = "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(hidden.size()) + "\r\n\r\n";
  check_not_smuggled(s.port(), head, hidden, 400);
}

TEST_CASE("smuggling: two Content-Length headers (0 first) never let the body be served") {
  // A front proxy that believes the last Content-Length forwards the body
  // as part of this request; mlgate must not read it as the next one.
  ServerProc s;
  std::string head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 0\r\nContent-Length: " +
                     std::to_string(kHidden.size()) + "\r\n\r\n";
  check_not_smuggled(s.port(), head, kHidden, 400);
}

TEST_CASE("smuggling: Transfer-Encoding with Content-Length: 0 never lets the body be served") {
  ServerProc s;
  std::string chunked = "0\r\n\r\n" + kHidden;
  std::string head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n";
  check_not_smuggled(s.port(), head, chunked, 411);
}

TEST_CASE("smuggling: an obfuscated Transfer-Encoding (space before the colon) cannot hide a request") {
  // Lenient proxies read "Transfer-Encoding : chunked" as chunked framing;
  // the library does not recognise the name, so mlgate sees a POST without
  // Content-Length. Its refusal must not leave the chunked body to be parsed
  // as the next request.
  ServerProc s;
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", kHidden.size());
  std::string body = size + kHidden + "\r\n0\r\n\r\n";
  std::string head = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding : chunked\r\n\r\n";
  check_not_smuggled(s.port(), head, body, 0);
}

TEST_CASE("a refusal, drained or closing, has one Content-Type and one Content-Length") {
  ServerProc s;
  // /predict without a key: the body is drained, the connection stays.
  // /nowhere: no route reads the body, so the refusal closes.
  for (auto [path, status, closes] : {std::tuple{"/predict", 401, false}, {"/nowhere", 404, true}}) {
    CAPTURE(path);
    RawConn c(s.port());
    c.send(post_head_at(path, kJobBody.size()) + kJobBody);
    REQUIRE(c.read_replies(1, 5s));
    c.read_until_quiet(500ms);
    auto rs = c.replies();
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == status);
    CHECK(rs[0].headers.count("content-type") == 1);
    CHECK(rs[0].headers.count("content-length") == 1);
    CHECK(c.closed() == closes);
    CHECK(rs[0].headers.count("connection") == (closes ? 1u : 0u));
  }
}

// ---- bodies the library would mishandle --------------------------------------

TEST_CASE("a chunked body over the cap is refused 411 and nothing is stored") {
  ServerProc s;
  std::string key = s.create_key("alice");
  std::string json_body = json{{"text", std::string(100 * 1024, 'a')}}.dump();
  std::string chunked;
  for (size_t off = 0; off < json_body.size(); off += 4096) {
    auto part = json_body.substr(off, 4096);
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", part.size());
    chunked += len + part + "\r\n";
  }
  chunked += "0\r\n\r\n";
  RawConn c(s.port());
  c.send("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: " + key +
         "\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked);
  REQUIRE(c.read_replies(1, 5s));
  c.read_until_quiet(1000ms);
  auto rs = c.replies();
  CHECK(rs[0].status == 411);
  CHECK(rs.size() == 1);
  CHECK(c.closed());
  CHECK(jobs_stored(s, key) == 0);
}

TEST_CASE("a POST without Content-Length is refused 411 and nothing is stored") {
  ServerProc s;
  std::string key = s.create_key("alice");
  RawConn c(s.port());
  c.send("POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: " + key +
         "\r\nConnection: close\r\n\r\n" + kJobBody);
  REQUIRE(c.read_replies(1, 5s));
  c.read_until_quiet(1000ms);
  auto rs = c.replies();
  CHECK(rs[0].status == 411);
  CHECK(jobs_stored(s, key) == 0);
}

TEST_CASE("a gzip body (Content-Encoding: gzip) is refused 415 before it is inflated") {
  ServerProc s;
  std::string key = s.create_key("alice");
  // 8 MB of JSON that deflates to a few KB: under the cap on the wire,
  // far over it once inflated (CVE-2026-22776).
  std::string plain = json{{"text", std::string(8 << 20, 'a')}}.dump();
  std::string gz;
  httplib::detail::gzip_compressor z;
  REQUIRE(z.compress(plain.data(), plain.size(), true, [&](const char* d, size_t n) {
    gz.append(d, n);
    return true;
  }));
  REQUIRE(gz.size() < 64 * 1024);
  auto c = s.client();
  httplib::Headers h = {{"X-API-Key", key}, {"Content-Encoding", "gzip"}};
  auto r = c.Post("/predict", h, gz, "application/json");
  check_hygiene(r);
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(jobs_stored(s, key) == 0);
  CHECK(healthy(s));
}

// ---- the client address ------------------------------------------------------

TEST_CASE("a spoofed REMOTE_ADDR or X-Forwarded-For header does not change the rate-limit identity") {
  // The harness's own /health probe at start may already have spent some of
  // the 3: if any header changed the identity, all four would pass.
  ServerProc s({"--limit-ip", "3/min"});
  auto c = s.client();
  int last = 0;
  for (int i = 1; i <= 4; ++i) {
    std::string spoof = "10.0.0." + std::to_string(i);
    auto r = c.Get("/", {{"REMOTE_ADDR", spoof}, {"X-Forwarded-For", spoof}, {"X-Real-IP", spoof}});
    check_hygiene(r);
    REQUIRE(r);
    last = r->status;
  }
  CHECK(last == 429);
}

TEST_CASE("behind a trusted proxy, each X-Forwarded-For client has its own limit") {
  ServerProc s({"--limit-ip", "3/min", "--trusted-proxy", "127.0.0.1/32"});
  auto c = s.client();
  auto get = [&](const std::string& xff) {
    auto r = c.Get("/", {{"X-Forwarded-For", xff}});
    check_hygiene(r);
    REQUIRE(r);
    return r->status;
  };
  for (int i = 0; i < 3; ++i) CHECK(get("203.0.113.7") == 200);
  CHECK(get("203.0.113.7") == 429);
  CHECK(get("203.0.113.8") == 200);  // another client behind the same proxy
}

TEST_CASE("X-Forwarded-For from a peer outside the trusted proxies is ignored") {
  // Only 127.0.0.2 is a proxy: the harness and the client below connect
  // from 127.0.0.1, an untrusted peer.
  ServerProc s({"--limit-ip", "3/min", "--trusted-proxy", "127.0.0.2/32"});
  auto c = s.client();
  int last = 0;
  for (int i = 1; i <= 4; ++i) {
    auto r = c.Get("/", {{"X-Forwarded-For", "198.51.100." + std::to_string(i)}});
    check_hygiene(r);
    REQUIRE(r);
    last = r->status;
  }
  CHECK(last == 429);
  // The same header from the trusted proxy's address is believed: that
  // client has a budget of its own.
  RawConn proxy(s.port(), "127.0.0.2");
  proxy.send("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.1\r\nConnection: close\r\n\r\n");
  REQUIRE(proxy.read_replies(1, 5s));
  CHECK(proxy.replies()[0].status == 200);
}

// ---- exceptions ----------------------------------------------------------------

TEST_CASE("hostile job-list and job-id parameters get 200, 404 or 422, never a 500 or exception text") {
  ServerProc s({"--limit-poll", "1000/s,burst=1000"});
  std::string key = s.create_key("alice");
  auto c = s.client();
  auto r = post_predict(c, key);
  REQUIRE(r);
  REQUIRE(r->status == 202);
  const std::string targets[] = {
      "/jobs?limit=0", "/jobs?limit=101", "/jobs?limit=-1", "/jobs?limit=1e309",
      "/jobs?limit=99999999999999999999", "/jobs?limit=%00", "/jobs?limit=", "/jobs?limit=1&limit=x",
      "/jobs?status=%ff%fe", "/jobs?status=pending%00", "/jobs?status=", "/jobs?cursor=",
      "/jobs?cursor=c9223372036854775807", "/jobs?cursor=c9223372036854775808", "/jobs?cursor=c-1",
      "/jobs?cursor=%ff", "/jobs?cursor=c1%00", "/jobs?cursor=" + std::string(5000, 'c'),
      "/jobs?%%%%=%%%%", "/jobs?&&&&", "/jobs?=", "/jobs/%ff%fe%fd", "/jobs/%00",
      "/jobs/" + std::string(64, '%'), "/jobs/..%2f..%2fetc%2fpasswd", "/jobs/%2e%2e",
  };
  for (const std::string& t : targets) {
    CAPTURE(t);
    auto res = c.Get(t, {{"X-API-Key", key}});
    check_hygiene(res);
    REQUIRE(res);
    CHECK((res->status == 200 || res->status == 400 || res->status == 404 || res->status == 422));
  }
  CHECK(healthy(s));
}

TEST_CASE("hostile Prefer and Idempotency-Key values never produce a 500 or exception text") {
  ServerProc s({"--tier", "free=1000/s"});
  std::string key = s.create_key("alice");
  auto c = s.client();
  const std::pair<const char*, std::string> headers[] = {
      {"Prefer", "wait=99999999999999999999"}, {"Prefer", "wait=-5"}, {"Prefer", "wait=%ff"},
      {"Idempotency-Key", "%ff%fe"}, {"Idempotency-Key", "%00"}, {"Idempotency-Key", std::string(256, 'k')},
  };
  for (auto& [name, value] : headers) {
    CAPTURE(value);
    auto r = post_predict(c, key, "A text that is long enough to pass", {{name, value}});
    check_hygiene(r);
    REQUIRE(r);
    CHECK(r->status < 500);
  }
}

// ---- ranges ----------------------------------------------------------------------

TEST_CASE("a hundred overlapping ranges get the plain body once") {
  ServerProc s;
  auto c = s.client();
  auto plain = c.Get("/openapi.json");
  check_hygiene(plain);
  REQUIRE(plain);
  REQUIRE(plain->status == 200);
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 99; ++i) ranges += ",0-";
  auto r = c.Get("/openapi.json", {{"Range", ranges}});
  check_hygiene(r);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body.size() == plain->body.size());
  CHECK_FALSE(r->has_header("Content-Range"));
}

TEST_CASE("a Range header of 50,000 ranges does not take the server down") {
  // The library parses Range with std::regex before any mlgate code runs.
  ServerProc s;
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 50'000; ++i) ranges += ",0-";
  fresh_exchange(s.port(), "GET /openapi.json HTTP/1.1\r\nHost: x\r\nRange: " + ranges +
                         "\r\nConnection: close\r\n\r\n");
  CHECK(healthy(s));
}

// ---- header limits ---------------------------------------------------------------

TEST_CASE("a thousand small headers are refused 431 or 400 and the server stays healthy") {
  ServerProc s;
  std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 1000; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
  req += "\r\n";
  auto rs = fresh_exchange(s.port(), req);
  REQUIRE(rs.size() >= 1);
  CHECK((rs[0].status == 431 || rs[0].status == 400));
  CHECK(healthy(s));
}

TEST_CASE("a 100 KB header line is refused and the server stays healthy") {
  ServerProc s;
  auto rs = fresh_exchange(s.port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                                   std::string(100 * 1024, 'p') + "\r\nConnection: close\r\n\r\n");
  bool refused = rs.empty() || (rs[0].status >= 400 && rs[0].status < 500);
  CHECK_MESSAGE(refused, "status " << (rs.empty() ? 0 : rs[0].status));
  CHECK(healthy(s));
}

// ---- the log -------------------------------------------------------------------------

TEST_CASE("percent-encoded newlines in header values and paths never forge a log line") {
  ServerProc s({"--trusted-proxy", "127.0.0.1/32"});
  std::string key = s.create_key("alice");
  const std::string inject = "%0a{\"level\":\"error\",\"injected_marker\":1}%0d%0a";
  auto c = s.client();
  size_t sent = 0;
  auto note = [&](const httplib::Result& r) {
    check_hygiene(r);
    REQUIRE(r);
    ++sent;
  };
  note(c.Get("/jobs", {{"X-API-Key", inject}}));
  note(c.Get("/jobs", {{"Authorization", "Bearer " + inject}}));
  note(c.Get("/", {{"X-Forwarded-For", inject}}));
  note(c.Get("/", {{"X-Forwarded-For", "1.2.3.4" + inject}}));
  note(c.Get("/", {{"User-Agent", inject}, {"Referer", inject}, {"Origin", inject}}));
  note(c.Get("/" + inject));
  note(c.Get("/jobs/" + std::string("%0a%7b%22injected_marker%22%3a1%7d"), {{"X-API-Key", key}}));
  note(post_predict(c, key, "A text that is long enough to pass", {{"Idempotency-Key", inject}}));
  note(post_predict(c, key, "A text that is long enough to pass", {{"Prefer", inject}}));
  std::string log = wait_log_requests(s, sent);
  for (const json& j : log_lines(log)) {
    CHECK_FALSE(j.contains("injected_marker"));
    CHECK(j.contains("level"));
  }
  // Nothing was written at level error by these requests.
  CHECK(log.find("\"level\":\"error\"") == std::string::npos);
}

// ---- malformed requests ---------------------------------------------------------------

TEST_CASE("malformed request lines get a 4xx with a JSON detail or a close, never a crash") {
  ServerProc s;
  const std::string cases[] = {
      "GARBAGE\r\n\r\n",
      "GET /\r\n\r\n",                         // HTTP/0.9 style
      "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
      "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
      "FOO / HTTP/1.1\r\nHost: x\r\n\r\n",
      "\r\n\r\n",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n",  // TLS hello
      "GET /" + std::string(100'000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n",       // absurd URI
      "GET / HTTP/1.1\r\nRange: bytes=z-q\r\n\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 19),
  };
  for (const std::string& req : cases) {
    CAPTURE(req.substr(0, 40));
    bool closed = false;
    auto rs = fresh_exchange(s.port(), req, &closed);
    if (!rs.empty()) {
      CHECK(rs[0].status >= 400);
      CHECK(rs[0].status < 500);
    } else {
      CHECK(closed);
    }
  }
  CHECK(healthy(s));
}

TEST_CASE("a library-made 400 carries no trace of the previous request on the same thread") {
  // The error handler and the access log of a request refused by the
  // library itself (bad request line) must not reuse the last request's
  // context: its key id, route, client and RateLimit state.
  ServerProc s;
  std::string key = s.create_key("alice");
  for (int round = 0; round < 5; ++round) {
    RawConn keyed(s.port());
    keyed.send("GET /jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key + "\r\nConnection: close\r\n\r\n");
    REQUIRE(keyed.read_replies(1, 5s));
    keyed.read_until_quiet(1000ms);  // the server closes: its thread is free again
    auto rs = fresh_exchange(s.port(), "GARBAGE\r\n\r\n");
    REQUIRE(rs.size() == 1);
    CHECK(rs[0].status == 400);
    CHECK_FALSE(rs[0].has("RateLimit"));
    CHECK_FALSE(rs[0].has("RateLimit-Policy"));
  }
  std::string log = wait_log_requests(s, 11);
  for (const json& j : log_lines(log)) {
    if (j.value("msg", "") != "request" || j.value("status", 0) != 400) continue;
    CHECK(j["key"].is_null());
    CHECK(j["route"] == "-");
  }
}

// ---- body size -------------------------------------------------------------------------

TEST_CASE("a 2 MB body is 413 with a detail, and the connection stays usable or closes cleanly") {
  ServerProc s;
  std::string key = s.create_key("alice");
  std::string big = json{{"text", std::string(2 << 20, 'a')}}.dump();
  RawConn c(s.port());
  c.send(post_head_at("/predict", big.size(), "X-API-Key: " + key + "\r\n") + big);
  REQUIRE(c.read_replies(1, 10s));
  auto rs = c.replies();
  CHECK(rs[0].status == 413);
  CHECK(json::parse(rs[0].body).contains("detail"));
  if (!c.closed()) {
    c.clear();
    c.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    if (c.read_replies(1, 5s)) CHECK(c.replies()[0].status == 200);
    else CHECK(c.closed());  // closed after the 413, without a reset mid-response
  }
  CHECK_FALSE(c.reset());
}

TEST_CASE("a Content-Length of 10^15 is 413 at once, without waiting for the body") {
  ServerProc s;
  std::string key = s.create_key("alice");
  RawConn c(s.port());
  auto t0 = Clock::now();
  c.send(post_head_at("/predict", 1'000'000'000'000'000ULL, "X-API-Key: " + key + "\r\n"));
  REQUIRE(c.read_replies(1, 5s));
  c.read_until_quiet(3000ms);
  auto elapsed = Clock::now() - t0;
  auto rs = c.replies();
  CHECK(rs[0].status == 413);
  CHECK(c.closed());
  CHECK(elapsed < 2500ms);
}

// ---- CORS ------------------------------------------------------------------------------

// Neither a GET nor a preflight from any of `origins` is allowed.
static void check_origins_refused(const ServerProc& s, std::initializer_list<const char*> origins) {
  auto c = s.client();
  for (const char* origin : origins) {
    CAPTURE(origin);
    auto r = c.Get("/", {{"Origin", origin}});
    check_hygiene(r);
    REQUIRE(r);
    CHECK_FALSE(r->has_header("Access-Control-Allow-Origin"));
    CHECK_FALSE(r->has_header("Access-Control-Allow-Credentials"));
    r = c.Options("/predict", {{"Origin", origin}, {"Access-Control-Request-Method", "POST"}});
    check_hygiene(r);
    REQUIRE(r);
    CHECK_FALSE(r->has_header("Access-Control-Allow-Origin"));
  }
}

TEST_CASE("CORS is off by default: no Access-Control-Allow-Origin for any origin") {
  ServerProc s;
  check_origins_refused(s, {"https://a.example", "https://evil.example", "null"});
}

TEST_CASE("--cors-origin allows exactly that origin, for GET and the preflight, never with credentials") {
  ServerProc s({"--cors-origin", "https://a.example"});
  auto c = s.client();
  auto r = c.Get("/", {{"Origin", "https://a.example"}});
  check_hygiene(r);
  REQUIRE(r);
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "https://a.example");
  CHECK_FALSE(r->has_header("Access-Control-Allow-Credentials"));
  r = c.Options("/predict", {{"Origin", "https://a.example"},
                             {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "content-type, x-api-key"}});
  check_hygiene(r);
  REQUIRE(r);
  CHECK(r->status / 100 == 2);
  CHECK(r->get_header_value("Access-Control-Allow-Origin") == "https://a.example");
  CHECK(r->get_header_value("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK_FALSE(r->has_header("Access-Control-Allow-Credentials"));
}

TEST_CASE("--cors-origin never allows another origin, nor a look-alike") {
  ServerProc s({"--cors-origin", "https://a.example"});
  check_origins_refused(s, {"https://evil.example", "https://a.example.evil.example",
                            "https://a.example:8443", "http://a.example", "null", "*"});
}
