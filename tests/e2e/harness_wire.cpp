#include "harness_wire.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace e2e {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

SSL_CTX* client_ctx() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    return c;
  }();
  return ctx;
}

}  // namespace

bool Reply::has(const std::string& name) const { return headers.count(lower(name)) > 0; }

std::string Reply::get(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

std::vector<Reply> parse_replies(const std::string& raw, bool head_only) {
  std::vector<Reply> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find("\r\n\r\n", pos);
    if (end == std::string::npos || raw.compare(pos, 5, "HTTP/") != 0) break;
    Reply r;
    std::istringstream head(raw.substr(pos, end - pos));
    std::string line;
    std::getline(head, line);
    if (line.size() >= 12) r.status = std::atoi(line.c_str() + 9);
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers.emplace(lower(line.substr(0, colon)), v);
    }
    pos = end + 4;
    size_t len = (r.has("Content-Length") && !head_only && r.status != 100)
                     ? std::stoul(r.get("Content-Length"))
                     : 0;
    // Headers and body may arrive in separate reads: a reply counts only
    // once all of it is here.
    if (raw.size() - pos < len) break;
    r.body = raw.substr(pos, len);
    pos += r.body.size();
    out.push_back(std::move(r));
  }
  return out;
}

WireConn::WireConn(int port, const char* source, bool tls) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &src.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
      throw std::runtime_error(std::string("bind to ") + source + " failed");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect failed");
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  if (!tls) return;
  ssl_ = SSL_new(client_ctx());
  SSL_set_fd(ssl_, fd_);
  auto deadline = Clock::now() + 10s;
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(ssl_);
    if (r == 1) return;
    int e = SSL_get_error(ssl_, r);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || left <= 0ms ||
        !wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, left))
      throw std::runtime_error("TLS handshake failed");
  }
}

WireConn::~WireConn() {
  if (ssl_) SSL_free(ssl_);
  ::close(fd_);
}

bool WireConn::wait(short events, std::chrono::milliseconds timeout) {
  pollfd p{fd_, events, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

bool WireConn::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!bytes.empty() && !closed_) {
    ssize_t n;
    bool want_read = false;
    if (ssl_) {
      ERR_clear_error();
      size_t put = 0;
      int r = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &put);
      n = r == 1 ? static_cast<ssize_t>(put) : -1;
      if (n < 0) {
        int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
        want_read = e == SSL_ERROR_WANT_READ;
        errno = EAGAIN;
      }
    } else {
      n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;  // reset, broken pipe
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) return false;
    pollfd p{fd_, static_cast<short>(want_read ? POLLIN : (POLLOUT | POLLIN)), 0};
    if (::poll(&p, 1, static_cast<int>(std::min(left, 200ms).count())) > 0 && (p.revents & POLLIN))
      read_some();  // the server may answer (and close) before reading it all
  }
  return bytes.empty();
}

void WireConn::shutdown_write() {
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  ::shutdown(fd_, SHUT_WR);
}

void WireConn::read_some() {
  char buf[65536];
  if (ssl_) {
    for (;;) {
      ERR_clear_error();
      size_t got = 0;
      int r = SSL_read_ex(ssl_, buf, sizeof buf, &got);
      if (r == 1) {
        got_.append(buf, got);
        continue;  // drain what OpenSSL holds
      }
      int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      closed_ = true;
      reset_ = e == SSL_ERROR_SYSCALL && errno == ECONNRESET;
      return;
    }
  }
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n > 0) {
    got_.append(buf, static_cast<size_t>(n));
  } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
    closed_ = true;
    reset_ = n < 0 && errno == ECONNRESET;
  }
}

void WireConn::read_until_quiet(std::chrono::milliseconds quiet) {
  while (!closed_ && wait(POLLIN, quiet)) read_some();
}

bool WireConn::read_replies(size_t count, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (parse_replies(got_).size() < count && !closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms || !wait(POLLIN, left)) break;
    read_some();
  }
  return parse_replies(got_).size() >= count;
}

TlsFiles make_test_certificate(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "IP:127.0.0.1")) {
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!key || X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("certificate signing failed");
  TlsFiles f{dir + "/cert.pem", dir + "/key.pem"};
  FILE* c = std::fopen(f.cert.c_str(), "w");
  FILE* k = std::fopen(f.key.c_str(), "w");
  if (!c || !k) throw std::runtime_error("cannot write the test certificate");
  PEM_write_X509(c, x);
  PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(c);
  std::fclose(k);
  X509_free(x);
  EVP_PKEY_free(key);
  return f;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces, in parentheses):
  // state is field 3, utime 14 and stime 15.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace e2e
