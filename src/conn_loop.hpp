// conn_loop.hpp: mlgate's own connection loop around cpp-httplib's request
// parsing, routing and response writing (DESIGN.md, "Connections").
//
// cpp-httplib 0.11.4 lets a subclass replace what happens to an accepted
// socket (`process_and_close_socket` is virtual) while keeping the rest
// (`process_request(Stream&, ...)` is protected). HttpServer does that, for
// plain TCP and TLS alike. What the caller may rely on:
// - Per connection, in order: the global cap (a connection taken by an
//   overflow thread of ConnPool) and the per-address cap are answered 503
//   with Retry-After at once, without reading; then for each request the
//   head is read into the connection's own buffer and checked while it
//   arrives (request_head.hpp: size, count, syntax, Host), answered 431,
//   414 or 400 and closed when it fails; the library parses a head only
//   once it is whole and sound.
// - Deadlines: the next request's first byte within `idle_timeout` (else the
//   connection closes quietly), its whole head within `head_timeout` of that
//   byte and its whole body within `body_timeout` of the head's end (else
//   408 and close).
// - A connection is reused only when the library read exactly the request's
//   head and declared body, so a refused request's body is never parsed as
//   the next request, whatever a handler did.
// - Idle connections sleep in poll() with no timer shorter than
//   `idle_timeout`; stop_and_wake() ends every idle wait at once, lets
//   requests in progress finish (answered with Connection: close), and
//   then the library's listen thread joins the connection threads.
// - Connection tokens are compared without regard to case; an HTTP/1.0
//   client that asked for keep-alive gets `Connection: keep-alive` and the
//   connection stays open, as the `Keep-Alive` header promises.
// - Closing after a refusal lingers briefly (reading and discarding) so the
//   answer is not lost to a reset; never after stop.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "address_slots.hpp"
#include "request_head.hpp"
#include "tls_context.hpp"

namespace mlgate {

class ConnStream;

struct ConnOptions {
  HeadLimits head;
  std::chrono::milliseconds head_timeout{10'000};
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds idle_timeout{5'000};   // keep-alive
  std::chrono::milliseconds write_timeout{10'000}; // each write of a response
  size_t per_address = 256;  // open connections of one client address
  int ipv6_prefix = 64;      // IPv6 peers are counted per this prefix
  // Called for each refusal the loop writes itself (400, 408, 414, 431,
  // 503), for the access log and the metrics, with the peer's address; it
  // returns the request id the answer carries in X-Request-Id.
  std::function<uint64_t(int status, const std::string& client)> on_refused;
};

class HttpServer : public httplib::Server {
 public:
  // `tls`: null for plain HTTP.
  HttpServer(ConnOptions opts, std::unique_ptr<TlsContext> tls);
  ~HttpServer() override;

  // The library listens with a compiled-in backlog of 5.
  void raise_backlog(int n);
  // Stops accepting and wakes every idle connection (Server::stop() is not
  // virtual, and only closes the listening socket).
  void stop_and_wake();

 private:
  bool process_and_close_socket(socket_t sock) override;
  void serve(int fd);
  // One request on an open connection; false when the connection must end.
  bool serve_request(ConnStream& s, const std::string& client, bool& linger);
  void refuse(ConnStream& s, const std::string& client, int status, const char* detail);

  const ConnOptions opts_;
  const std::unique_ptr<TlsContext> tls_;
  AddressSlots slots_;
  int wake_fd_ = -1;  // an eventfd, readable from stop_and_wake() on
  std::atomic<bool> stopping_{false};
};

}  // namespace mlgate
