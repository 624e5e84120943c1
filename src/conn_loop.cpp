#include "conn_loop.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "client_address.hpp"
#include "conn_pool.hpp"
#include "conn_stream.hpp"
#include "log.hpp"

namespace mlgate {
namespace {

using namespace std::chrono_literals;

// Reading and discarding after a refusal: long enough for the answer to
// reach a client that is still sending, short enough that a thread is not
// held by a client that never stops.
constexpr auto kLinger = 1000ms;
constexpr size_t kLingerBytes = 1 << 20;

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// The peer as the library would report it, and the address it is counted
// under (IPv4 per address, IPv6 per prefix; a mapped IPv4 as IPv4).
ConnPeer peer_of(int fd, int ipv6_prefix, std::string& client) {
  ConnPeer p;
  auto text = [](const sockaddr_storage& ss, std::string& ip, int& port) {
    char buf[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
      auto& a = reinterpret_cast<const sockaddr_in&>(ss);
      inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
      port = ntohs(a.sin_port);
    } else if (ss.ss_family == AF_INET6) {
      auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
      inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof buf);
      port = ntohs(a.sin6_port);
    }
    ip = buf;
  };
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) text(ss, p.ip, p.port);
  auto addr = IpAddress::parse(p.ip);
  client = addr ? limiter_key(*addr, ipv6_prefix) : p.ip;
  len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) text(ss, p.local_ip, p.local_port);
  return p;
}

}  // namespace

HttpServer::HttpServer(ConnOptions opts, std::unique_ptr<TlsContext> tls)
    : opts_(std::move(opts)), tls_(std::move(tls)), slots_(opts_.per_address) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  // What the library writes in `Keep-Alive: timeout=N, max=M`; the loop
  // below, not the library, keeps both promises.
  keep_alive_timeout_sec_ = std::chrono::duration_cast<std::chrono::seconds>(opts_.idle_timeout).count();
  keep_alive_max_count_ = 1'000'000;
  set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    // HTTP/1.0 keep-alive must be confirmed in the answer (RFC 9112 C.2.2);
    // the library only writes Keep-Alive. The loop closed every other 1.0
    // connection (`Connection: close` is already set then).
    if (req.version == "HTTP/1.0" && !res.has_header("Connection"))
      res.set_header("Connection", "keep-alive");
    // A handler's `Connection: close` (a refusal that closes) may meet the
    // library's own: one is enough, and no Keep-Alive promise beside it.
    if (res.get_header_value_count("Connection") > 1) {
      res.headers.erase("Connection");
      res.set_header("Connection", "close");
    }
    if (res.get_header_value("Connection") == "close") res.headers.erase("Keep-Alive");
    res.headers.erase("Accept-Ranges");  // the library offers ranges on HEAD; mlgate has none
  });
}

HttpServer::~HttpServer() { ::close(wake_fd_); }

void HttpServer::raise_backlog(int n) { ::listen(svr_sock_, n); }

void HttpServer::stop_and_wake() {
  stopping_ = true;
  stop();
  uint64_t one = 1;
  // Never read back: the descriptor stays readable and every wait ends.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  try {
    serve(sock);
  } catch (const std::exception& e) {  // bad_alloc in the library's writer, say
    Log::instance().error("connection ended by an error", {{"error", e.what()}});
  }
  ::close(sock);
  return true;
}

void HttpServer::serve(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string client;
  ConnPeer peer = peer_of(fd, opts_.ipv6_prefix, client);
  // Both caps are decided before anything is read; the slot is held until
  // the connection is closed.
  const bool overflow = ConnPool::waited();
  AddressSlots::Slot slot = overflow ? AddressSlots::Slot() : slots_.acquire(client);
  const bool refused = overflow || !slot;
  SSL* ssl = nullptr;
  if (tls_) {
    // Even a refusal needs the handshake to be readable; a short one then.
    auto limit = refused ? std::min<std::chrono::milliseconds>(opts_.head_timeout, 1000ms)
                         : opts_.head_timeout;
    ssl = tls_->handshake(fd, ConnClock::now() + limit, wake_fd_);
    if (!ssl) return;
  }
  Transport t(fd, ssl);
  ConnStream s(t, wake_fd_, opts_.write_timeout, std::move(peer));
  if (refused) {
    refuse(s, client, 503,
           overflow ? "Server busy; try again later"
                    : "Too many connections from this address; try again later");
    // No wait: a client refused for holding too many connections must not
    // hold a thread for each refusal as well.
    linger_close(t, wake_fd_, 0ms, kLingerBytes);
    return;
  }
  bool linger = false;
  while (serve_request(s, client, linger)) {
  }
  // Lingering ends at once after stop (the wake descriptor is readable).
  if (linger || !s.unread().empty()) linger_close(t, wake_fd_, kLinger, kLingerBytes);
  else t.shutdown_write();
}

bool HttpServer::serve_request(ConnStream& s, const std::string& client, bool& linger) {
  s.trim();
  if (s.unread().empty()) {
    if (stopping_ || s.peer_closed()) return false;  // a half-closed peer is done
    if (s.fill(ConnClock::now() + opts_.idle_timeout) != ConnStream::Fill::Data) return false;
  }
  // The head's deadline runs from its first byte.
  const auto head_deadline = ConnClock::now() + opts_.head_timeout;
  HeadScanner scanner(opts_.head);
  const HeadVerdict* v = &scanner.scan(s.unread());
  while (v->state == HeadVerdict::State::Incomplete) {
    switch (s.fill(head_deadline)) {
      case ConnStream::Fill::Data: break;
      case ConnStream::Fill::Timeout:
        refuse(s, client, 408, "Request head not received in time");
        linger = true;
        return false;
      default: return false;  // end of stream or stop in mid-head: nothing to answer
    }
    v = &scanner.scan(s.unread());
  }
  if (v->state == HeadVerdict::State::Refused) {
    refuse(s, client, v->status, v->detail);
    linger = true;
    return false;
  }
  size_t head_length = v->length;
  for (auto it = v->dropped.rbegin(); it != v->dropped.rend(); ++it) {
    s.erase(it->first, it->second);  // Range: see request_head.hpp
    head_length -= it->second;
  }
  s.skip(v->skip);
  s.begin_request(head_length, v->expect_continue, ConnClock::now() + opts_.body_timeout);
  const bool close = !v->keep_alive || stopping_;
  bool library_close = false;  // the library's own reading of Connection: not used
  const bool written = process_request(s, close, library_close, nullptr);
  // The library read exactly this request's head and declared body, or the
  // connection is out of step: a refusal that left its body unread, a
  // request line the library read differently.
  const bool in_step = v->body_length && s.request_bytes() == head_length + *v->body_length;
  if (!written || s.body_timed_out() || !in_step) {
    linger = true;
    return false;
  }
  return !close && !s.write_failed();
}

void HttpServer::refuse(ConnStream& s, const std::string& client, int status, const char* detail) {
  uint64_t id = opts_.on_refused ? opts_.on_refused(status, client) : 0;
  // `detail` is one of mlgate's own fixed ASCII sentences: no escaping.
  std::string body = std::string("{\"detail\":\"") + detail + "\"}";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                  "\r\nContent-Type: application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\nConnection: close\r\n";
  if (status == 503) r += "Retry-After: 1\r\n";
  r += "X-Request-Id: " + std::to_string(id) + "\r\n\r\n" + body;
  s.send(r);
}

}  // namespace mlgate
