// HTTPS (--tls-cert, --tls-key): the same connection loop over OpenSSL, with
// a certificate each test makes for itself.
#include <algorithm>
#include <doctest/doctest.h>

#include "harness.hpp"
#include "harness_conn_checks.hpp"
#include "harness_wire.hpp"

using namespace e2e;
using namespace std::chrono_literals;

namespace {

// A server on a fresh self-signed certificate.
struct TlsServer {
  TempDir dir;
  TlsFiles files = make_test_certificate(dir.path.string());
  ServerProc server;
  explicit TlsServer(std::vector<std::string> extra = {})
      : server(with_tls(files, std::move(extra))) {}
  static std::vector<std::string> with_tls(const TlsFiles& f, std::vector<std::string> extra) {
    extra.insert(extra.end(), {"--tls-cert", f.cert, "--tls-key", f.key});
    return extra;
  }
};

}  // namespace

TEST_CASE("TLS: the API answers over HTTPS, and plain HTTP on the TLS port gets no answer") {
  TlsServer t({"--tier", "free=1000/s"});
  std::string key = t.server.create_key("alice");
  auto c = t.server.client();  // https
  auto r = c.Get("/health");
  REQUIRE(r);
  CHECK(r->status == 200);
  r = post_predict(c, key);
  REQUIRE(r);
  CHECK(r->status == 202);
  CHECK(!wait_finished(c, key, json::parse(r->body)["job_uuid"]).empty());
  WireConn plain(t.server.port());
  plain.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  plain.read_until_quiet(2000ms);
  CHECK(plain.replies().empty());
  CHECK(plain.closed());
}

TEST_CASE("TLS: a certificate and key that do not match stop the start with one line") {
  TempDir a, b;
  TlsFiles one = make_test_certificate(a.path.string());
  TlsFiles two = make_test_certificate(b.path.string());
  TempDir data;
  CliResult r = run_cli({"serve", "--port", "0", "--data-dir", (data.path / "d").string(),
                         "--tls-cert", one.cert, "--tls-key", two.key});
  // A configured value that does not work: exit 2, as for any bad flag.
  CHECK(r.status == 2);
  CHECK(r.err.find("--tls-key") != std::string::npos);
  CHECK(r.err.find("does not belong to the certificate") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("TLS: a header flood is refused 431 while it is read, and memory stays flat") {
  ScopedEnv env;
  reuse_freed_memory_under_asan(env);
  TlsServer t;
  check_header_flood(t.server, true);
}

TEST_CASE("TLS: pipelined requests are answered in order, each exactly once") {
  TlsServer t({"--tier", "free=1000/s"});
  check_pipelining(t.server, t.server.create_key("alice"), true);
}

TEST_CASE("TLS: a half-closed client gets its answer, then the connection closes") {
  TlsServer t({"--tier", "free=1000/s"});
  check_half_close(t.server, t.server.create_key("alice"), true);
}
