// harness.hpp: runs the real mlgate binary for end-to-end tests.
//
// Each ServerProc is a child process on a port the kernel picks (--port 0;
// the port is read from the server's "listening" log line), with its own
// temporary data directory and its standard error captured to a file that
// tests can read (and that the log-secrecy test scans).
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace e2e {

using json = nlohmann::json;

// A fresh directory under the system temp dir, removed by the destructor.
struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
};

struct CliResult {
  int status;
  std::string out, err;
};
// Runs `mlgate ARGS...`, feeding `input` on stdin, with `env` ("NAME=VALUE")
// added to the test's environment.
CliResult run_cli(const std::vector<std::string>& args, const std::string& input = "",
                  const std::vector<std::string>& env = {});

class ServerProc {
 public:
  // Starts `mlgate serve --port 0 --data-dir DIR ARGS...` and waits until it
  // answers /health. `dir` defaults to a new temporary directory.
  explicit ServerProc(std::vector<std::string> args = {}, std::string dir = "");
  ~ServerProc();

  void start();
  void signal(int sig);      // SIGTERM, SIGKILL, ...
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void restart();            // SIGTERM, wait, start again on the same data dir

  int port() const { return port_; }
  pid_t pid() const { return pid_; }  // -1 when not running
  const std::string& dir() const { return dir_; }
  std::string log() const;   // everything written to stderr so far
  httplib::Client client() const;  // https (unverified) when started with --tls-cert

  // `mlgate keys create --name NAME EXTRA...` against this server's data.
  std::string create_key(const std::string& name, const std::vector<std::string>& extra = {}) const;

 private:
  void use_shared_database_if_asked();
  std::vector<std::string> args_;
  std::string database_;  // MLGATE_E2E_DATABASE=postgresql: this server's database URL
  std::unique_ptr<TempDir> own_dir_;
  std::string dir_, log_path_;
  pid_t pid_ = -1;
  int port_ = -1;
  int starts_ = 0;
};

// POSTs {"text": text} with the key; returns the response.
httplib::Result post_predict(httplib::Client& c, const std::string& key,
                             const std::string& text = "The service was good and I liked it",
                             const httplib::Headers& extra = {});

// Sends raw bytes on a fresh connection and returns everything the server
// sends back until it closes the connection or `quiet` passes in silence.
std::string raw_exchange(int port, const std::string& bytes,
                         std::chrono::milliseconds quiet = std::chrono::milliseconds(1500));

// Polls GET /jobs/{id} until the job is finished or the timeout passes.
json wait_finished(httplib::Client& c, const std::string& key, const std::string& id,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The port of a fresh listening socket that nothing uses (then closed).
int unused_port();

// The (method route status) of each answer in a server's log that its
// OpenAPI document does not list (harness_openapi.cpp). ~ServerProc fails
// the running test for each one.
std::vector<std::string> undocumented_answers(const std::string& log);

// Where a sanitizer's report starts in a server log (ASan, TSan, LSan, a
// UBSan "file:line:col: runtime error:"), or npos. ~ServerProc fails the
// running test on one.
size_t sanitizer_report(const std::string& log);

// How many lines `s` holds (its '\n' characters).
size_t line_count(const std::string& s);

// examples/NAME of this source tree, absolute (servers and clients run in
// their own temporary directories).
std::string example_path(const std::string& name);

// Server flags that keep limits out of a load test's way: a tier "fast"
// (for keys made with --tier fast) and a per-address limit nothing reaches.
extern const std::vector<std::string> kFast;
// `a`, then `more`.
std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more);

// Client threads that POST /predict on keep-alive connections until
// stopped, remembering every job id answered 202 and counting the 503s
// (and those without Retry-After).
class Load {
 public:
  Load(int port, std::string key, int threads);
  ~Load() { stop(); }
  void stop();
  size_t accepted_count() const { return accepted_n_.load(); }
  size_t unavailable_count() const { return unavailable_.load(); }
  size_t unavailable_without_retry_after() const { return no_retry_after_.load(); }
  std::vector<std::string> accepted();

 private:
  void run(int t);
  int port_;
  std::string key_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> accepted_n_{0}, unavailable_{0}, no_retry_after_{0};
  std::mutex mu_;  // guards accepted_
  std::vector<std::string> accepted_;
  std::vector<std::jthread> threads_;
};

}  // namespace e2e
