// tls_context.hpp: the server's TLS settings (--tls-cert, --tls-key) and the
// handshake of one connection, for the connection loop (conn_loop.hpp),
// which then serves TLS connections exactly as plain ones.
//
// What the caller may rely on
// - The constructor loads a PEM certificate chain and its private key and
//   checks that they match; it throws std::runtime_error with one line
//   naming the file and OpenSSL's reason otherwise.
// - TLS 1.2 and 1.3 only; no renegotiation (a client could otherwise make
//   the server redo handshakes on one connection); a peer that closes the
//   TCP connection without close_notify reads as end of stream.
// - Idle connections keep no TLS read/write buffers (SSL_MODE_RELEASE_BUFFERS).
// - handshake() never waits past its deadline or after stop.
// - Thread-safe: one context serves every connection thread.
#pragma once

#include <openssl/types.h>

#include <string>

#include "conn_io.hpp"

namespace mlgate {

class TlsContext {
 public:
  TlsContext(const std::string& cert_file, const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // The server side of the handshake on the non-blocking socket `fd`: the
  // SSL object to hand to a Transport, or nullptr (failed, timed out, stop).
  SSL* handshake(int fd, ConnClock::time_point deadline, int wake_fd) const;

 private:
  SSL_CTX* ctx_ = nullptr;
};

}  // namespace mlgate
