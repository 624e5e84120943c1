// replay_main.cpp: runs a fuzz target without libFuzzer, so the seed corpora
// and the inputs of fixed crashes are checked by every ctest run of the
// normal (g++) build and of its sanitizer builds.
//
//   fuzz_replay_<target> PATH...   each PATH a file or a directory of files
//
// Every file is fed once to the target's LLVMFuzzerTestOneInput; a broken
// property aborts the process, naming the file on the line before. A path
// that does not exist is skipped (a target with no regressions yet has no
// directory), but no file at all is a failure: an empty corpus would pass
// without checking anything.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz_check.hpp"

extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path p = argv[i];
    if (fs::is_directory(p)) {
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (fs::exists(p)) {
      files.push_back(p);
    } else {
      std::printf("%s: not there, skipped\n", argv[i]);
    }
  }
  std::sort(files.begin(), files.end());  // the same order every run
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replaying %s\n", f.c_str());
    // A copy on the heap of exactly the file's size, as libFuzzer passes
    // it, so AddressSanitizer sees a read one byte past the end.
    std::vector<uint8_t> buf(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(buf.empty() ? nullptr : buf.data(), buf.size());
  }
  std::printf("%zu inputs replayed, every property held\n", files.size());
  return files.empty() ? 1 : 0;
}
