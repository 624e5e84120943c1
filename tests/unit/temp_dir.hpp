// temp_dir.hpp: a fresh directory under the system's temp directory for one
// test, removed with everything in it when the test's object goes.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <system_error>

namespace mlgate::testutil {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "mlgate-unit-") {
    std::random_device rd;
    do path = std::filesystem::temp_directory_path() / (prefix + std::to_string(rd()));
    while (!std::filesystem::create_directory(path));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace mlgate::testutil
