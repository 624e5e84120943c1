// conn_stream.hpp: the httplib::Stream of one connection, kept for the
// connection's whole life (the library's own makes a new one, and a new
// read buffer, for every request, so bytes it read ahead were lost).
//
// What the caller (the connection loop, then the library) may rely on
// - Bytes read ahead stay in the buffer until the library reads them:
//   pipelined requests are parsed in order, each once.
// - The loop fills the buffer itself (fill) until a request head is whole,
//   then hands the stream to the library, which reads that head back from
//   the buffer without a system call, then the body.
// - Body reads wait at most until the body deadline given in
//   begin_request(); past it read() throws BodyTimeout, which the library
//   passes to the server's exception handler (it answers 408), and
//   body_timed_out() tells the loop to close.
// - `Expect: 100-continue`: the library writes "100 Continue" as soon as it
//   has parsed the head, before any check. The stream holds that line back
//   and sends it only when the body is first read, which the library does
//   only once pre-routing let the request through; a refusal goes out
//   instead of it.
// - is_writable() never peeks for EOF: a half-closed peer gets its answer.
// - Not thread-safe: one connection thread uses it.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "conn_io.hpp"

namespace mlgate {

struct BodyTimeout : std::runtime_error {
  BodyTimeout() : std::runtime_error("request body not received in time") {}
};

struct ConnPeer {
  std::string ip, local_ip;
  int port = 0, local_port = 0;
};

class ConnStream final : public httplib::Stream {
 public:
  ConnStream(Transport& t, int wake_fd, std::chrono::milliseconds write_timeout, ConnPeer peer)
      : t_(t), wake_fd_(wake_fd), write_timeout_(write_timeout), peer_(std::move(peer)) {}

  // ---- the connection loop's side
  enum class Fill { Data, Eof, Timeout, Woken, Error };
  // Appends what the peer sent to the buffer, waiting until `deadline` or
  // until the server stops.
  Fill fill(ConnClock::time_point deadline);
  std::string_view unread() const { return {buf_.data() + pos_, buf_.size() - pos_}; }
  void skip(size_t n) { pos_ += n; }
  // Removes `n` unread bytes starting `offset` bytes into the unread ones.
  void erase(size_t offset, size_t n) { buf_.erase(pos_ + offset, n); }
  // The library is about to parse the request whose head is the first
  // `head_length` unread bytes.
  void begin_request(size_t head_length, bool expect_continue, ConnClock::time_point body_deadline);
  // Bytes the library has read since begin_request.
  uint64_t request_bytes() const { return request_bytes_; }
  bool body_timed_out() const { return body_timed_out_; }
  bool write_failed() const { return write_failed_; }
  bool peer_closed() const { return eof_; }
  // Writes the loop's own responses, bounded like the library's writes.
  bool send(std::string_view bytes);
  // Gives back a large buffer once it is empty (after a big head).
  void trim();

  // ---- httplib::Stream
  bool is_readable() const override;
  bool is_writable() const override { return !write_failed_; }
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return t_.fd(); }

 private:
  Transport& t_;
  const int wake_fd_;
  const std::chrono::milliseconds write_timeout_;
  const ConnPeer peer_;
  std::string buf_;
  size_t pos_ = 0;  // first unread byte of buf_
  uint64_t request_bytes_ = 0;
  size_t head_length_ = 0;
  ConnClock::time_point body_deadline_{};
  bool continue_owed_ = false;      // send 100 Continue before waiting for the body
  bool swallow_continue_ = false;   // the library's own 100 Continue may come next
  bool body_timed_out_ = false, write_failed_ = false, eof_ = false;
};

}  // namespace mlgate
