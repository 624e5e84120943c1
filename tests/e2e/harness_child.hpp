// harness_child.hpp: starting a database server the tests need (redis-server
// in harness_redis.cpp, postgres in harness_pg.cpp) as a child process, and
// waiting until it answers. Header-only: the fixtures are compiled into the
// unit, end-to-end and benchmark binaries alike.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace test {

// Starts args[0] (looked up in PATH) with `args`: standard input from
// /dev/null, standard output and error appended to `log_path` (or
// /dev/null when it is empty), in a process group of its own (the test's
// signals reach the server's own children too), killed when the test
// process dies, even one that crashed.
inline pid_t start_child(std::vector<std::string> args, const std::string& log_path) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = open("/dev/null", O_RDWR);
    const int log = log_path.empty() ? -1 : open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0666);
    dup2(null, 0);
    dup2(log >= 0 ? log : null, 1);
    dup2(log >= 0 ? log : null, 2);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// Polls `answers` every `step` until it returns true (then returns true)
// or `limit` has passed (then false; the caller stops the child). A child
// that exits meanwhile is reaped, `pid` set to -1, and `exited` thrown.
inline bool wait_answering(pid_t& pid, std::chrono::milliseconds limit, std::chrono::milliseconds step,
                           const std::function<bool()>& answers, const std::string& exited) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      pid = -1;
      throw std::runtime_error(exited);
    }
    if (answers()) return true;
    std::this_thread::sleep_for(step);
  }
  return false;
}

}  // namespace test
