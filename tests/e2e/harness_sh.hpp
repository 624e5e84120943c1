// harness_sh.hpp: runs a shell command line for the tests that drive more
// than the mlgate binary (the package, the example clients, runuser).
#pragma once

#include <string>

#include "harness.hpp"

namespace e2e {

// `/bin/sh -c script`, with its standard output and error captured; killed
// after `timeout_s`. status is the exit code, or 128 + signal.
CliResult run_sh(const std::string& script, int timeout_s = 120);

// Single-quoted for sh: any text becomes one word.
std::string sh_quote(const std::string& s);

// A file's whole content ("" when it cannot be read).
std::string read_file(const std::filesystem::path& p);

// An exec model (POSIX sh) that takes `seconds` over each job, then answers
// label "ok": jobs stay queued long enough to cancel or to fill the queue.
std::string slow_model(int seconds);

// An exec model that holds each job until the file `gate` exists: a job
// stays running (and the queue full) exactly as long as a test needs.
std::string gated_model(const std::string& gate);

// True when `name` is a command on PATH.
bool have_command(const std::string& name);

// An mlgate server started by a shell command line (as another user, from
// an installed copy, ...), its output in `log`. The command must end in
// `serve ... --port 0`; start() waits for its "listening" line.
class ShellServer {
 public:
  ShellServer(const std::string& command, std::filesystem::path log);
  ~ShellServer();  // SIGTERM, then SIGKILL after 10 s
  int port() const { return port_; }
  std::string log() const;

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace e2e
