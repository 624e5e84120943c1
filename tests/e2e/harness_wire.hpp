// harness_wire.hpp: raw HTTP/1.1 on the wire for end-to-end tests, over
// plain TCP or TLS, from a chosen loopback source address: what a client
// sends byte for byte and everything the server answers, so tests can see
// pipelining, half-closes, resets and refusals exactly.
#pragma once

#include <openssl/types.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace e2e {

// One HTTP response parsed from raw bytes; header names in lower case.
struct Reply {
  int status = 0;
  std::multimap<std::string, std::string> headers;
  std::string body;
  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;
};

// Every complete response in `raw`, in order (bodies framed by
// Content-Length; a HEAD answer's body is never sent, so pass `head_only`
// for a stream of answers to HEAD requests).
std::vector<Reply> parse_replies(const std::string& raw, bool head_only = false);

// A client connection, optionally TLS (no certificate check: the tests make
// their own) and optionally from a chosen loopback source address.
class WireConn {
 public:
  explicit WireConn(int port, const char* source = nullptr, bool tls = false);
  ~WireConn();
  WireConn(const WireConn&) = delete;
  WireConn& operator=(const WireConn&) = delete;

  // Sends all of `bytes`, reading whatever the server answers meanwhile.
  // False when the server closed or reset first, or `timeout` passed.
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Half-close: the end of the request stream (TLS: close_notify, then FIN).
  void shutdown_write();

  // Reads until the server closes (FIN or reset) or `quiet` passes in silence.
  void read_until_quiet(std::chrono::milliseconds quiet = std::chrono::milliseconds(1500));
  // Reads until `count` complete responses are buffered, the server closes,
  // or `timeout` passes; returns whether they arrived.
  bool read_replies(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  const std::string& received() const { return got_; }
  std::vector<Reply> replies() const { return parse_replies(got_); }
  bool closed() const { return closed_; }
  bool reset() const { return reset_; }
  void clear() { got_.clear(); }

 private:
  bool wait(short events, std::chrono::milliseconds timeout);
  void read_some();

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string got_;
  bool closed_ = false, reset_ = false;
};

struct TlsFiles {
  std::string cert, key;
};
// A fresh self-signed certificate (EC P-256, CN and SAN 127.0.0.1) and its
// key as PEM files in `dir`.
TlsFiles make_test_certificate(const std::string& dir);

// Resident memory (VmRSS, KiB) and CPU time used so far (user + system,
// seconds) of process `pid`, from /proc.
long rss_kib(pid_t pid);
double cpu_seconds(pid_t pid);

}  // namespace e2e
