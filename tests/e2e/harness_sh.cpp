#include "harness_sh.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace e2e {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string gated_model(const std::string& gate) {
  return "while IFS= read -r line; do while [ ! -e " + sh_quote(gate) + " ]; do sleep 0.05; done" +
         R"(; id=${line#\{\"id\":}; printf '{"id":%s,"label":"ok","score":1}\n' "${id%%,*}"; done)";
}

std::string slow_model(int seconds) {
  return "while IFS= read -r line; do sleep " + std::to_string(seconds) +
         R"(; id=${line#\{\"id\":}; printf '{"id":%s,"label":"ok","score":1}\n' "${id%%,*}"; done)";
}

CliResult run_sh(const std::string& script, int timeout_s) {
  TempDir tmp;
  auto out_path = tmp.path / "out", err_path = tmp.path / "err";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  int st = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (::waitpid(pid, &st, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), read_file(out_path),
          read_file(err_path)};
}

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool have_command(const std::string& name) {
  return run_sh("command -v " + sh_quote(name) + " >/dev/null").status == 0;
}

ShellServer::ShellServer(const std::string& command, std::filesystem::path log) : log_(std::move(log)) {
  auto started = run_sh(command + " >" + sh_quote(log_.string()) + " 2>&1 & echo $!");
  if (started.status != 0) throw std::runtime_error("cannot start: " + started.err);
  pid_ = std::stoi(started.out);
  static const std::regex kListening(R"re("msg":"listening".*"port":(\d+))re");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    std::string text = this->log();
    if (std::regex_search(text, m, kListening)) {
      port_ = std::stoi(m[1]);
      return;
    }
    if (::kill(pid_, 0) != 0) break;  // exited
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("server did not start: " + this->log());
}

ShellServer::~ShellServer() {
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500 && ::kill(pid_, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(pid_, SIGKILL);
}

std::string ShellServer::log() const { return read_file(log_); }

}  // namespace e2e
