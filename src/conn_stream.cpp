#include "conn_stream.hpp"

#include <algorithm>
#include <cstring>

namespace mlgate {
namespace {

// What cpp-httplib 0.11.4 writes for `Expect: 100-continue`, in one write.
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// One read's worth of a connection's bytes: a typical head, or a quarter of
// a TLS record (the rest stays decrypted in OpenSSL and is read without a
// wait). On the connection thread's stack, so an idle connection holds no
// read buffer at all.
constexpr size_t kReadChunk = 4096;

}  // namespace

ConnStream::Fill ConnStream::fill(ConnClock::time_point deadline) {
  char tmp[kReadChunk];
  for (;;) {
    ssize_t n = t_.recv(tmp, sizeof tmp);
    if (n > 0) {
      if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
      } else if (pos_ > buf_.size() / 2) {
        buf_.erase(0, pos_);
        pos_ = 0;
      }
      buf_.append(tmp, static_cast<size_t>(n));
      return Fill::Data;
    }
    if (n == 0) {
      eof_ = true;
      return Fill::Eof;
    }
    if (n == Transport::kError) return Fill::Error;
    switch (wait_ready(t_.fd(), t_.wants(), wake_fd_, deadline)) {
      case Waited::Ready: break;
      case Waited::Timeout: return Fill::Timeout;
      case Waited::Woken: return Fill::Woken;
      case Waited::Error: return Fill::Error;
    }
  }
}

void ConnStream::begin_request(size_t head_length, bool expect_continue,
                               ConnClock::time_point body_deadline) {
  request_bytes_ = 0;
  head_length_ = head_length;
  body_deadline_ = body_deadline;
  // A client that already sent body bytes is not waiting for 100 Continue.
  continue_owed_ = expect_continue && unread().size() == head_length;
  swallow_continue_ = expect_continue;
}

bool ConnStream::send(std::string_view bytes) {
  if (write_failed_) return false;
  if (!send_all(t_, bytes, ConnClock::now() + write_timeout_)) write_failed_ = true;
  return !write_failed_;
}

void ConnStream::trim() {
  if (pos_ == buf_.size() && buf_.capacity() > 2 * kReadChunk) {
    std::string().swap(buf_);
    pos_ = 0;
  }
}

bool ConnStream::is_readable() const { return pos_ < buf_.size() || t_.buffered(); }

ssize_t ConnStream::read(char* ptr, size_t size) {
  if (pos_ < buf_.size()) {
    size_t k = std::min(size, buf_.size() - pos_);
    std::memcpy(ptr, buf_.data() + pos_, k);
    pos_ += k;
    request_bytes_ += k;
    return static_cast<ssize_t>(k);
  }
  // The whole head was buffered before the library was called: a read past
  // the buffer inside the head would be a bug, answered as end of stream.
  if (request_bytes_ < head_length_ || eof_) return 0;
  if (continue_owed_) {
    continue_owed_ = false;
    if (!send(kContinue)) return -1;
  }
  // The body, straight into the library's buffer: it asks for no more than
  // the bytes left of this body, so nothing of a next request is taken.
  for (;;) {
    ssize_t n = t_.recv(ptr, size);
    if (n > 0) {
      request_bytes_ += static_cast<uint64_t>(n);
      return n;
    }
    if (n == 0) {
      eof_ = true;
      return 0;
    }
    if (n == Transport::kError) return -1;
    // Not woken by stop(): a request in progress ends within its deadline.
    switch (wait_ready(t_.fd(), t_.wants(), -1, body_deadline_)) {
      case Waited::Ready: break;
      case Waited::Timeout: body_timed_out_ = true; throw BodyTimeout();
      default: return -1;
    }
  }
}

ssize_t ConnStream::write(const char* ptr, size_t size) {
  std::string_view bytes(ptr, size);
  if (swallow_continue_) {
    swallow_continue_ = false;
    if (bytes == kContinue) return static_cast<ssize_t>(size);  // held back: see read()
  }
  continue_owed_ = false;  // the answer is going out instead
  return send(bytes) ? static_cast<ssize_t>(size) : -1;
}

void ConnStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = peer_.ip;
  port = peer_.port;
}

void ConnStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = peer_.local_ip;
  port = peer_.local_port;
}

}  // namespace mlgate
