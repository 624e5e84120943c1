// conn_io.hpp: bytes in and out of one accepted connection, plain TCP or
// TLS, over a non-blocking socket, and the one way mlgate waits for them.
//
// What the caller may rely on
// - Nothing here blocks: recv/send return kAgain when the socket is not
//   ready, and wants() then says which poll event to wait for (TLS may need
//   to write while reading, e.g. a key update).
// - wait_ready() sleeps in poll() on the socket and, when given, the
//   server's stop descriptor: no periodic wake-ups, and stop() ends every
//   wait at once.
// - A half-closed peer (it sent FIN, or a TLS close_notify) reads as end of
//   stream, and writing to it still works: nothing here peeks for EOF.
// - Transport owns the SSL object (freed with it), never the descriptor.
#pragma once

#include <openssl/types.h>
#include <poll.h>
#include <sys/types.h>

#include <chrono>
#include <string_view>

namespace mlgate {

using ConnClock = std::chrono::steady_clock;

class Transport {
 public:
  static constexpr ssize_t kAgain = -2;  // not ready: wait for wants()
  static constexpr ssize_t kError = -1;

  Transport(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // > 0 bytes read, 0 end of stream, kAgain or kError.
  ssize_t recv(char* p, size_t n);
  // > 0 bytes written, kAgain or kError.
  ssize_t send(const char* p, size_t n);
  short wants() const { return wants_; }
  // Decrypted TLS bytes already held in memory: readable without a poll.
  bool buffered() const;
  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  // Ends the write side: TLS close_notify (best effort), then FIN.
  void shutdown_write();

 private:
  ssize_t would_block(short events);  // a failed plain call: kAgain or kError
  ssize_t tls_error(int r);           // a failed SSL call: kAgain, 0 (end) or kError

  int fd_;
  SSL* ssl_;
  short wants_ = POLLIN;
};

enum class Waited { Ready, Timeout, Woken, Error };

// Waits until `events` are ready on `fd`, `deadline` passes, or `wake_fd`
// (ignored when < 0) becomes readable.
Waited wait_ready(int fd, short events, int wake_fd, ConnClock::time_point deadline);

// Sends all of `bytes`, each wait for the socket bounded by `deadline`.
bool send_all(Transport& t, std::string_view bytes, ConnClock::time_point deadline);

// Closes the write side, then reads and discards what the peer still sends
// until it closes, `linger` passes, `max_bytes` are read or `wake_fd` fires,
// so that a response written just before is not destroyed by the reset the
// kernel sends when unread bytes remain at close (RFC 9112 9.6). The caller
// closes the descriptor.
void linger_close(Transport& t, int wake_fd, std::chrono::milliseconds linger, size_t max_bytes);

}  // namespace mlgate
