// conn_load: a small keep-alive HTTP load client for the connection-scaling
// scenario (bench/conn_scaling.sh). wrk cannot choose its source address,
// and the per-address connection cap means 1,000 clients must come from
// several addresses (127.0.0.x) to be a fair test.
//
// usage: conn_load PORT CONNS ADDRS SECONDS [PATH] [--hold SECONDS]
//   CONNS connections, spread over ADDRS source addresses 127.0.0.10,
//   127.0.0.11, ...; each sends GET PATH (default /health) and the next one
//   as soon as the answer is in (one request in flight per connection, as
//   wrk does), for SECONDS. Two threads, each with its own epoll set.
//   --hold S: afterwards keep every connection open and idle for S seconds
//   (to measure the server's memory per open connection), then exit.
// prints one line: requests/s, answers by class, p50/p99 latency, errors.
//
// Bounded: at most 65,536 connections, at most 600 s, loopback only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string in;
  Clock::time_point sent;
};

struct Tally {
  uint64_t ok = 0, busy = 0, other = 0, errors = 0;
  std::vector<float> latency_ms;
};

int connect_from(int port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  ::inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One complete response at the front of `in`: its status, and it is
// removed; 0 when not all of it is here yet.
int take_response(std::string& in) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  size_t len = 0;
  size_t cl = in.find("Content-Length: ");
  if (cl != std::string::npos && cl < end) len = std::strtoul(in.c_str() + cl + 16, nullptr, 10);
  if (in.size() < end + 4 + len) return 0;
  int status = std::atoi(in.c_str() + 9);
  in.erase(0, end + 4 + len);
  return status;
}

void drive(std::vector<Conn>& conns, const std::string& request, Clock::time_point stop,
           Tally& t) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{EPOLLIN, {.u64 = i}};
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    conns[i].sent = Clock::now();
    if (::send(conns[i].fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) ++t.errors;
  }
  std::vector<epoll_event> events(256);
  char buf[16384];
  while (Clock::now() < stop) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[k].data.u64];
      ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          ++t.errors;
          ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        }
        continue;
      }
      c.in.append(buf, static_cast<size_t>(got));
      while (int status = take_response(c.in)) {
        auto now = Clock::now();
        if (now >= stop) break;
        t.latency_ms.push_back(std::chrono::duration<float, std::milli>(now - c.sent).count());
        if (status == 200) ++t.ok;
        else if (status == 503) ++t.busy;
        else ++t.other;
        c.sent = now;
        if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) ++t.errors;
      }
    }
  }
  ::close(ep);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: conn_load PORT CONNS ADDRS SECONDS [PATH] [--hold SECONDS]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const size_t conns_n = std::clamp<size_t>(std::strtoul(argv[2], nullptr, 10), 1, 65536);
  const size_t addrs = std::clamp<size_t>(std::strtoul(argv[3], nullptr, 10), 1, 200);
  const double secs = std::clamp(std::atof(argv[4]), 0.1, 600.0);
  std::string path = "/health";
  double hold = 0;
  for (int i = 5; i < argc; ++i) {
    if (std::strcmp(argv[i], "--hold") == 0 && i + 1 < argc) hold = std::clamp(std::atof(argv[++i]), 0.0, 600.0);
    else path = argv[i];
  }
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);

  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<std::vector<Conn>> per_thread(2);
  for (size_t i = 0; i < conns_n; ++i) {
    std::string source = "127.0.0." + std::to_string(10 + i % addrs);
    per_thread[i % 2].push_back(Conn{connect_from(port, source), {}, {}});
  }
  std::vector<Tally> tallies(2);
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(secs));
  {
    std::vector<std::jthread> threads;
    for (size_t k = 0; k < 2; ++k)
      threads.emplace_back([&, k] { drive(per_thread[k], request, stop, tallies[k]); });
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Tally all;
  for (auto& t : tallies) {
    all.ok += t.ok;
    all.busy += t.busy;
    all.other += t.other;
    all.errors += t.errors;
    all.latency_ms.insert(all.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
  }
  std::sort(all.latency_ms.begin(), all.latency_ms.end());
  auto pct = [&](double p) {
    if (all.latency_ms.empty()) return 0.0f;
    return all.latency_ms[static_cast<size_t>(p * static_cast<double>(all.latency_ms.size() - 1))];
  };
  const uint64_t answers = all.ok + all.busy + all.other;
  std::printf("conns %zu addrs %zu secs %.1f requests/s %.0f ok %llu 503 %llu other %llu errors %llu "
              "p50_ms %.2f p99_ms %.2f\n",
              conns_n, addrs, elapsed, static_cast<double>(answers) / elapsed,
              static_cast<unsigned long long>(all.ok), static_cast<unsigned long long>(all.busy),
              static_cast<unsigned long long>(all.other), static_cast<unsigned long long>(all.errors),
              pct(0.50), pct(0.99));
  std::fflush(stdout);
  if (hold > 0) std::this_thread::sleep_for(std::chrono::duration<double>(hold));
  for (auto& v : per_thread)
    for (auto& c : v) ::close(c.fd);
  return all.errors || all.other ? 1 : 0;
}
