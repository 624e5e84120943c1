// Connections (DESIGN.md, "Connections"): slow clients must not stop
// service, the connection cap answers 503 rather than queueing, and a busy
// keep-alive connection is not cut after the library's default 5 requests.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>

#include "harness.hpp"

using namespace e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Slowloris: connections that send a request's headers one byte every
// `interval`, never finishing them, until stop() (or destruction).
class SlowClients {
 public:
  SlowClients(int port, size_t count, std::chrono::milliseconds interval) {
    for (size_t i = 0; i < count; ++i) {
      int fd = connect_loopback(port);
      REQUIRE(fd >= 0);
      fds_.push_back(fd);
    }
    // The first byte at once, so every connection is a request in progress.
    for (int fd : fds_) ::send(fd, kHead.data(), 1, MSG_NOSIGNAL);
    driver_ = std::jthread([this, interval](std::stop_token st) {
      size_t pos = 1;
      while (!st.stop_requested()) {
        auto next = Clock::now() + interval;
        while (!st.stop_requested() && Clock::now() < next) std::this_thread::sleep_for(10ms);
        if (st.stop_requested()) break;
        char b = kHead[std::min(pos++, kHead.size() - 1)];  // never the blank line
        for (int fd : fds_) ::send(fd, &b, 1, MSG_NOSIGNAL);
        ++bytes_sent_;
      }
    });
  }
  ~SlowClients() { stop(); }
  void stop() {
    driver_ = std::jthread();
    for (int fd : fds_) ::close(fd);
    fds_.clear();
  }
  size_t bytes_sent() const { return bytes_sent_ + 1; }

 private:
  // "a" repeats forever at the end: the header line never ends.
  inline static const std::string kHead = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a";
  std::vector<int> fds_;
  std::atomic<size_t> bytes_sent_{0};
  std::jthread driver_;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The server's connection threads, from /metrics.
double connection_threads(const ServerProc& s, const std::string& metrics_key) {
  auto c = s.client();
  auto r = c.Get("/metrics", {{"X-API-Key", metrics_key}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  static const std::regex re(R"(\nmlgate_connection_threads ([0-9.e+]+))");
  std::smatch m;
  REQUIRE(std::regex_search(r->body, m, re));
  return std::stod(m[1]);
}

// Reads one response's status line and headers (and its body, by
// Content-Length) from `fd`; status 0 on close or timeout.
struct Head {
  int status = 0;
  std::string headers;
};
Head read_response(int fd, std::string& buf, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      Head h;
      h.headers = buf.substr(0, end + 4);
      h.status = std::atoi(h.headers.c_str() + 9);
      size_t len = 0;
      std::smatch m;
      static const std::regex cl(R"(\r\n[Cc]ontent-[Ll]ength: *(\d+))");
      if (std::regex_search(h.headers, m, cl)) len = std::stoul(m[1]);
      if (buf.size() >= end + 4 + len) {
        buf.erase(0, end + 4 + len);
        return h;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char tmp[65536];
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return {};
    buf.append(tmp, static_cast<size_t>(n));
  }
}

}  // namespace

TEST_CASE("200 slowloris connections do not stop a normal client (p99 reported)") {
  ServerProc s;
  std::string metrics_key = s.create_key("ops", {"--scopes", "metrics"});
  constexpr size_t kSlow = 200;
  SlowClients slow(s.port(), kSlow, 500ms);
  // Every slow connection holds a connection thread before measuring starts.
  auto deadline = Clock::now() + 10s;
  while (connection_threads(s, metrics_key) < kSlow && Clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  REQUIRE(connection_threads(s, metrics_key) >= kSlow);

  std::vector<double> ms;
  size_t failed = 0;
  auto c = s.client();  // a new connection per request: the harder case
  c.set_read_timeout(5);
  auto stop = Clock::now() + 8s;
  while (Clock::now() < stop) {
    auto t0 = Clock::now();
    auto r = c.Get("/health");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r || r->status != 200) ++failed;
    std::this_thread::sleep_for(20ms);
  }
  double p50 = percentile(ms, 0.50), p99 = percentile(ms, 0.99);
  MESSAGE("slowloris: " << kSlow << " slow connections, " << slow.bytes_sent()
                        << " bytes each; normal client " << ms.size() << " requests, p50 " << p50
                        << " ms, p99 " << p99 << " ms, max " << percentile(ms, 1.0)
                        << " ms (design goal: p99 < 50 ms)");
  CHECK(failed == 0);
  // Robust on a slow shared machine; the measured p99 is printed above.
  CHECK(p99 < 1000.0);
}

TEST_CASE("past --max-connections a new request gets 503 with Retry-After at once") {
  // The per-address cap (a quarter of 8 by default) would refuse these
  // connections first: raised so that the global cap is what is tested.
  ServerProc s({"--max-connections", "8", "--max-connections-per-address", "100"});
  // Ten slow connections: eight hold every connection thread, two wait.
  // They are accepted before the normal request below (one accept loop,
  // in connection order).
  SlowClients slow(s.port(), 10, 500ms);
  auto c = s.client();
  c.set_read_timeout(5);
  auto t0 = Clock::now();
  auto r = c.Get("/health");
  auto elapsed = Clock::now() - t0;
  slow.stop();
  MESSAGE("with 10 slow connections and --max-connections 8: "
          << (r ? std::to_string(r->status) : std::string("no response (") + httplib::to_string(r.error()) + ")")
          << " after " << std::chrono::duration<double, std::milli>(elapsed).count() << " ms");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(r->has_header("Retry-After"));
  CHECK(elapsed < 2s);
}

TEST_CASE("a keep-alive connection serves more than the library's default 5 requests") {
  ServerProc s;
  int fd = connect_loopback(s.port());
  REQUIRE(fd >= 0);
  std::string buf;
  int served = 0;
  for (int i = 0; i < 20; ++i) {
    std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) break;
    Head h = read_response(fd, buf, 5s);
    if (h.status != 200) break;
    ++served;
    if (h.headers.find("Connection: close") != std::string::npos) break;
  }
  ::close(fd);
  CHECK(served == 20);
}
