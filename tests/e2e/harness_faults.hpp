// harness_faults.hpp: the LD_PRELOAD fault shim (tests/faults/fault_shim.c)
// for end-to-end tests. While a Faults object lives, every process the test
// starts (the server, the CLI) runs with the shim, a control file that
// starts and stops a fault, and a clock offset file; with both files empty
// the shim changes nothing.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace e2e {

// Sets environment variables for the child processes started in its scope,
// and puts the old values back at the end.
class ScopedEnv {
 public:
  void set(const std::string& name, const std::string& value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else ::unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

class Faults {
 public:
  Faults() {
    write(control_, "");
    write(clock_, "0");
    env_.set("LD_PRELOAD", MLGATE_FAULT_SHIM);
    env_.set("MLGATE_FAULT_CONTROL", control_);
    env_.set("MLGATE_FAULT_LOG", log_);
    env_.set("MLGATE_CLOCK_OFFSET_FILE", clock_);
    // A sanitizer build's runtime wants to be the first library loaded;
    // the shim only forwards calls, so its place does not matter.
    const char* asan = std::getenv("ASAN_OPTIONS");
    env_.set("ASAN_OPTIONS", std::string(asan ? asan : "") + ":verify_asan_link_order=0");
  }

  // "ops=fsync match=mlgate.db nth=1 count=-1 errno=EIO" (see the shim).
  void arm(const std::string& rule) { write(control_, rule); }
  void disarm() { write(control_, ""); }
  // Calls the shim has failed so far, over every process.
  size_t injected() const {
    std::ifstream in(log_);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
  // Shifts the wall clock of every process under the shim (seconds).
  void set_clock_offset(double seconds) { write(clock_, std::to_string(seconds)); }

 private:
  // Written beside and renamed into place: the shim sees the whole new
  // content or the old one, and a new inode even when size and time match.
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path + ".tmp", std::ios::trunc) << text;
    std::filesystem::rename(path + ".tmp", path);
  }

  TempDir dir_;
  std::string control_ = (dir_.path / "control").string();
  std::string log_ = (dir_.path / "injected").string();
  std::string clock_ = (dir_.path / "clock").string();
  ScopedEnv env_;
};

}  // namespace e2e
