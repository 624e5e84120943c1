#include "harness.hpp"
#include "harness_pg.hpp"

#include "harness_port.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace e2e {
namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (;;) {
    path = fs::temp_directory_path() / ("mlgate-e2e-" + std::to_string(rd()));
    if (fs::create_directory(path)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path, ec);
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, int in_fd, int out_fd, int err_fd,
            const std::vector<std::string>& env = {}) {
  std::vector<char*> argv;
  std::string bin = MLGATE_BINARY;
  argv.push_back(bin.data());
  for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    if (in_fd >= 0) dup2(in_fd, 0);
    if (out_fd >= 0) dup2(out_fd, 1);
    if (err_fd >= 0) dup2(err_fd, 2);
    for (auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

// MLGATE_E2E_DATABASE=postgresql: an admin command pointed at a server's
// data directory goes to that server's database (remembered beside the
// directory by ServerProc), as an operator would point it there.
std::vector<std::string> with_shared_database(std::vector<std::string> args) {
  const char* e = std::getenv("MLGATE_E2E_DATABASE");
  if (!e || std::string(e) != "postgresql" || args.empty() || args[0] == "serve") return args;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--database") return args;
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--data-dir") {
      const std::string url = slurp(args[i + 1] + ".database");
      if (!url.empty()) args.insert(args.end(), {"--database", url});
      break;
    }
  return args;
}

CliResult run_cli(const std::vector<std::string>& given, const std::string& input,
                  const std::vector<std::string>& env) {
  const std::vector<std::string> args = with_shared_database(given);
  TempDir tmp;
  auto in_path = (tmp.path / "in").string(), out_path = (tmp.path / "out").string(),
       err_path = (tmp.path / "err").string();
  std::ofstream(in_path, std::ios::binary) << input;
  int in = open(in_path.c_str(), O_RDONLY);
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = spawn(args, in, out, err, env);
  close(in);
  close(out);
  close(err);
  // A command that should have exited but serves instead must fail the
  // test, not hang the suite.
  int st = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), slurp(out_path), slurp(err_path)};
}

ServerProc::ServerProc(std::vector<std::string> args, std::string dir) : args_(std::move(args)) {
  if (dir.empty()) {
    own_dir_ = std::make_unique<TempDir>();
    dir = (own_dir_->path / "data").string();
  }
  dir_ = dir;
  log_path_ = dir_ + ".log";
  use_shared_database_if_asked();
  start();
}

// MLGATE_E2E_DATABASE=postgresql: the same tests on the PostgreSQL store.
// Each data directory gets a fresh database (remembered beside it, so a
// second server or a restart on that directory finds the same one), and
// create_key() makes keys there.
void ServerProc::use_shared_database_if_asked() {
  const char* e = std::getenv("MLGATE_E2E_DATABASE");
  if (!e || std::string(e) != "postgresql") return;
  for (const auto& a : args_)
    if (a == "--database") return;  // the test names its own
  const std::string remembered = dir_ + ".database";
  database_ = slurp(remembered);
  if (database_.empty()) {
    auto& pg = test::PgServer::shared();
    database_ = pg.url(pg.create_database());
    std::ofstream(remembered) << database_;
  }
  args_.insert(args_.begin(), {"--database", database_});
}

size_t sanitizer_report(const std::string& log) {
  for (const char* mark : {"ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: LeakSanitizer"})
    if (auto at = log.find(mark); at != std::string::npos) return at;
  static const std::regex kUbsan(R"re(:\d+:\d+: runtime error: )re");
  std::smatch m;
  if (std::regex_search(log, m, kUbsan)) return static_cast<size_t>(m.position(0));
  return std::string::npos;
}

ServerProc::~ServerProc() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  const std::string l = log();
  for (const auto& a : undocumented_answers(l)) FAIL_CHECK("answer missing from /openapi.json: " << a);
  // A sanitizer build of the server reports into this log and, for TSan and
  // a UBSan without halt_on_error, carries on: the test must still fail.
  if (auto at = sanitizer_report(l); at != std::string::npos)
    FAIL_CHECK("the server's log holds a sanitizer report:\n" << l.substr(at, 4000));
}

void ServerProc::start() {
  std::vector<std::string> a = {"serve", "--port", "0", "--data-dir", dir_};
  a.insert(a.end(), args_.begin(), args_.end());
  // Append: a restarted server's log follows the first one's.
  int err = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  size_t seen = slurp(log_path_).size();
  pid_ = spawn(a, -1, err, err);
  close(err);
  ++starts_;
  static const std::regex kListening(R"re("msg":"listening".*"port":(\d+))re");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = slurp(log_path_).substr(seen);
    std::smatch m;
    if (std::regex_search(log, m, kListening)) {
      port_ = std::stoi(m[1]);
      auto c = client();
      if (auto r = c.Get("/health"); r && r->status == 200) return;
    }
    int st;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("mlgate exited at start: " + slurp(log_path_).substr(seen));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("mlgate did not start: " + slurp(log_path_).substr(seen));
}

void ServerProc::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ServerProc::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

void ServerProc::restart() {
  signal(SIGTERM);
  if (wait_exit() < 0) throw std::runtime_error("mlgate did not stop on SIGTERM");
  start();
}

std::string ServerProc::log() const { return slurp(log_path_); }

httplib::Client ServerProc::client() const {
  bool tls = std::find(args_.begin(), args_.end(), "--tls-cert") != args_.end();
  httplib::Client c((tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_));
  c.enable_server_certificate_verification(false);  // the tests' own certificates
  // The client writes a POST's headers and body separately: without
  // TCP_NODELAY, Nagle and the peer's delayed ACK add 40 ms to each.
  c.set_tcp_nodelay(true);
  c.set_connection_timeout(5);
  c.set_read_timeout(35);
  return c;
}

std::string ServerProc::create_key(const std::string& name,
                                   const std::vector<std::string>& extra) const {
  std::vector<std::string> a = {"keys", "create", "--name", name, "--data-dir", dir_};
  if (!database_.empty()) a.insert(a.end(), {"--database", database_});
  a.insert(a.end(), extra.begin(), extra.end());
  CliResult r = run_cli(a);
  if (r.status != 0) throw std::runtime_error("keys create failed: " + r.err);
  std::string key = r.out;
  while (!key.empty() && key.back() == '\n') key.pop_back();
  return key;
}

httplib::Result post_predict(httplib::Client& c, const std::string& key, const std::string& text,
                             const httplib::Headers& extra) {
  httplib::Headers h = extra;
  if (!key.empty()) h.emplace("X-API-Key", key);
  return c.Post("/predict", h, json{{"text", text}}.dump(), "application/json");
}

std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds quiet) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("connect failed");
  }
  for (size_t off = 0; off < bytes.size();) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string got;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;  // silence
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;  // closed
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got;
}

json wait_finished(httplib::Client& c, const std::string& key, const std::string& id,
                   std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  json j;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.Get("/jobs/" + id, {{"X-API-Key", key}});
    if (r && r->status == 200) {
      j = json::parse(r->body);
      std::string s = j["status"];
      if (s == "completed" || s == "failed" || s == "canceled") return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

int unused_port() { return test::free_loopback_port(); }

const std::vector<std::string> kFast = {"--tier", "fast=100000/s,burst=100000", "--limit-ip",
                                        "1000000/s,burst=100000"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

Load::Load(int port, std::string key, int threads) : port_(port), key_(std::move(key)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this, i] { run(i); });
}

void Load::stop() {
  stop_ = true;
  threads_.clear();
}

std::vector<std::string> Load::accepted() {
  std::lock_guard lock(mu_);
  return accepted_;
}

void Load::run(int t) {
  httplib::Client c("127.0.0.1", port_);
  c.set_tcp_nodelay(true);  // see ServerProc::client
  c.set_keep_alive(true);
  c.set_connection_timeout(1);
  c.set_read_timeout(10);
  for (int n = 0; !stop_; ++n) {
    auto r = post_predict(c, key_,
                          "Thread " + std::to_string(t) + " says the service was good, visit " +
                              std::to_string(n));
    if (r && r->status == 202) {
      std::string id = json::parse(r->body)["job_uuid"];
      std::lock_guard lock(mu_);
      accepted_.push_back(id);
      ++accepted_n_;
    } else if (r && r->status == 503) {
      ++unavailable_;
      if (!r->has_header("Retry-After")) ++no_retry_after_;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } else if (!r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the server is gone; don't spin
    }
  }
}

size_t line_count(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

std::string example_path(const std::string& name) {
  auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "examples" / name).string();
}

}  // namespace e2e
