// key_signal.cpp: see key_signal.hpp.
#include "key_signal.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

namespace mlgate {
namespace {

constexpr size_t kSize = 4096;  // one page; the counter is its first 8 bytes

std::atomic_ref<uint64_t> counter(void* map) { return std::atomic_ref<uint64_t>(*static_cast<uint64_t*>(map)); }

}  // namespace

std::string key_signal_path(const std::string& db_path) { return db_path + ".keys-changed"; }

std::unique_ptr<KeySignal> KeySignal::open(const std::string& db_path) {
  const std::string path = key_signal_path(db_path);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // made by another user, readable
  if (fd < 0) return nullptr;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (st.st_size < static_cast<off_t>(kSize) && ::ftruncate(fd, kSize) != 0)) {
    ::close(fd);
    return nullptr;
  }
  void* map = ::mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<KeySignal>(new KeySignal(fd, map));
}

KeySignal::~KeySignal() {
  ::munmap(map_, kSize);
  ::close(fd_);
}

uint64_t KeySignal::read() const { return counter(map_).load(std::memory_order_acquire); }

void bump_key_signal(const std::string& db_path) noexcept {
  const std::string path = key_signal_path(db_path);
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // never O_CREAT: see the header
  if (fd < 0) return;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(kSize)) {
    void* map = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      counter(map).fetch_add(1, std::memory_order_release);
      ::munmap(map, kSize);
    }
  }
  ::close(fd);
}

}  // namespace mlgate
