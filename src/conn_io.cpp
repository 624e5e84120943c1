#include "conn_io.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>

namespace mlgate {

Transport::~Transport() {
  if (ssl_) SSL_free(ssl_);
}

ssize_t Transport::recv(char* p, size_t n) {
  if (!ssl_) {
    ssize_t r = ::recv(fd_, p, n, 0);
    return r >= 0 ? r : would_block(POLLIN);
  }
  ERR_clear_error();  // SSL_get_error reads this thread's error queue
  size_t got = 0;
  int r = SSL_read_ex(ssl_, p, n, &got);
  return r == 1 ? static_cast<ssize_t>(got) : tls_error(r);
}

ssize_t Transport::send(const char* p, size_t n) {
  if (!ssl_) {
    ssize_t r = ::send(fd_, p, n, MSG_NOSIGNAL);
    return r >= 0 ? r : would_block(POLLOUT);
  }
  ERR_clear_error();
  size_t put = 0;
  int r = SSL_write_ex(ssl_, p, n, &put);
  return r == 1 ? static_cast<ssize_t>(put) : tls_error(r);
}

ssize_t Transport::would_block(short events) {
  // EINTR too: the caller polls, then calls again.
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return kError;
  wants_ = events;
  return kAgain;
}

ssize_t Transport::tls_error(int r) {
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ: wants_ = POLLIN; return kAgain;
    case SSL_ERROR_WANT_WRITE: wants_ = POLLOUT; return kAgain;
    // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a FIN without one.
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: return kError;
  }
}

bool Transport::buffered() const { return ssl_ && SSL_pending(ssl_) > 0; }

void Transport::shutdown_write() {
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // queues close_notify; a full socket buffer just skips it
  }
  ::shutdown(fd_, SHUT_WR);
}

Waited wait_ready(int fd, short events, int wake_fd, ConnClock::time_point deadline) {
  pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  const nfds_t n = wake_fd >= 0 ? 2 : 1;
  for (;;) {
    auto left = deadline - ConnClock::now();
    if (left <= ConnClock::duration::zero()) return Waited::Timeout;
    // Rounded up, so that a wait never ends just before its deadline and spins.
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
    int r = ::poll(p, n, ms > INT_MAX ? INT_MAX : static_cast<int>(ms));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Waited::Error;
    }
    if (r == 0) continue;  // the deadline is checked above
    if (n == 2 && p[1].revents) return Waited::Woken;
    if (p[0].revents) return Waited::Ready;  // POLLHUP/POLLERR too: the next call reports it
  }
}

bool send_all(Transport& t, std::string_view bytes, ConnClock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = t.send(bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (n != Transport::kAgain ||
               wait_ready(t.fd(), t.wants(), -1, deadline) != Waited::Ready) {
      return false;
    }
  }
  return true;
}

void linger_close(Transport& t, int wake_fd, std::chrono::milliseconds linger, size_t max_bytes) {
  t.shutdown_write();
  const auto deadline = ConnClock::now() + linger;
  char buf[4096];
  for (size_t got = 0; got < max_bytes;) {
    // Raw bytes, even under TLS: they are thrown away unread.
    ssize_t n = ::recv(t.fd(), buf, sizeof buf, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return;  // peer closed, or reset
    if (wait_ready(t.fd(), POLLIN, wake_fd, deadline) != Waited::Ready) return;
  }
}

}  // namespace mlgate
