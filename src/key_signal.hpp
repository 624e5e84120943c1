// key_signal.hpp: a counter in a small shared file that the admin CLI bumps
// after each key change it commits, so the running server can tell "no key
// was written since I last looked" with one memory load instead of a
// database read.
//
// Contract:
// - The file is "<database>.keys-changed", one page, created (0600) by the
//   server at start-up and mapped read-only; writers bump a 64-bit counter
//   in it with an atomic add on their own shared mapping, after their commit.
//   A writer never creates the file: with no server started yet, nobody
//   needs the signal (and a file made by another user could lock the server
//   out of it).
// - The counter only says "changed". A writer that does not bump it (an
//   older mlgate, a hand-made SQL change) is seen by the server's regular
//   poll of the key table instead (key_store.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace mlgate {

class KeySignal {
 public:
  // The server's read-only view of the signal beside `db_path`, creating the
  // file if it is not there; nullptr when it cannot be opened or mapped
  // (then KeyCache reads the database instead).
  static std::unique_ptr<KeySignal> open(const std::string& db_path);
  ~KeySignal();
  KeySignal(const KeySignal&) = delete;
  KeySignal& operator=(const KeySignal&) = delete;

  // The counter (acquire: a value read here was bumped after its commit).
  uint64_t read() const;

 private:
  KeySignal(int fd, void* map) : fd_(fd), map_(map) {}
  int fd_;
  void* map_;
};

// After a committed key change: bumps the counter beside `db_path` if the
// file exists. Never throws; a failure leaves the change to the server's poll.
void bump_key_signal(const std::string& db_path) noexcept;

// The signal file's path for a database path.
std::string key_signal_path(const std::string& db_path);

}  // namespace mlgate
