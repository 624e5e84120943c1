// harness_load.hpp: a mixed client load on a running mlgate, and the check
// that a SIGKILL lost nothing it had acknowledged. Shared by the crash
// tests (tests/e2e/test_crash.cpp, a few rounds in CI) and the soak
// (bench/soak.cpp, 20 rounds and more).
//
// The load: posters (POST /predict), pollers (GET /jobs/{id}, GET /jobs
// pages), a canceller (DELETE), clients with wrong keys (from their own
// X-Forwarded-For addresses, so their failed-key budgets are their own),
// hostile heads (raw malformed requests), and key changes from the CLI
// (create, revoke, rotate). It records what was acknowledged: every job
// answered 202, every cancel answered 200, every key change the CLI
// confirmed with exit status 0; and every HTTP status it saw.
//
// The check (KillCheck): after a SIGKILL, with the server down, every
// accepted job is in the database file; after a restart, every job reaches
// a final state, a job completed or canceled before the kill is unchanged,
// one that was pending or running is claimed exactly once more and
// completes; every acknowledged cancel stands; every created key works
// and every revoked one is refused.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace e2e {

// Flags for a server under this load: limits that let the load through
// (the limiter is exercised, not in the way), and loopback as a trusted
// proxy so clients can have addresses of their own.
extern const std::vector<std::string> kLoadServerArgs;

struct KeyChange {
  std::string name, id, key;
  bool revoked = false;  // by `keys revoke` or `keys rotate` (exit 0)
};

struct LoadOptions {
  int posters = 3;
  std::chrono::milliseconds post_pause{0};  // each poster, between POSTs
  std::chrono::milliseconds key_pause{20};  // between two key changes
  bool pollers = true, canceller = true, bad_keys = true, hostile = true, key_changes = true;
};

class MixedLoad {
 public:
  // `key` (tier fast, scopes predict,read) posts and polls.
  MixedLoad(const ServerProc& server, std::string key, LoadOptions opt = {});
  ~MixedLoad() { stop(); }
  void stop();  // joins every thread; the records stay readable

  std::vector<std::string> accepted() const;   // answered 202, in order
  std::set<std::string> canceled() const;      // DELETE answered 200
  std::vector<KeyChange> key_changes() const;  // acknowledged by the CLI
  std::map<int, uint64_t> statuses() const;    // every HTTP status seen, counted
  uint64_t requests() const { return requests_.load(); }
  // GET or DELETE of a job this load had been answered 202 for, answered
  // 404: a job lost while the server ran.
  uint64_t accepted_not_found() const { return accepted_404_.load(); }

 private:
  void post_loop(int n, std::chrono::milliseconds pause);
  void poll_loop();
  void cancel_loop();
  void bad_key_loop();
  void hostile_loop();
  void key_loop(std::chrono::milliseconds pause);
  void count(int status);
  std::optional<std::string> some_accepted(bool recent);
  httplib::Client client() const;

  const ServerProc& server_;
  const std::string key_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> requests_{0}, accepted_404_{0};
  mutable std::mutex mu_;  // guards the records below
  std::vector<std::string> accepted_;
  std::set<std::string> canceled_;
  std::vector<KeyChange> keys_;
  std::map<int, uint64_t> statuses_;
  std::vector<std::jthread> threads_;
};

// Everything acknowledged over all rounds so far.
struct Ledger {
  std::vector<std::string> accepted;
  std::set<std::string> canceled;
  std::vector<KeyChange> keys;
};

struct KillReport {
  size_t accepted = 0;              // jobs answered 202, all rounds so far
  size_t missing_after_kill = 0;    // not in the file right after the kill
  size_t not_final = 0;             // still pending/running after the restart
  size_t changed_after_final = 0;   // completed/canceled at the kill, then changed
  size_t not_claimed_once = 0;      // pending/running at the kill: not exactly one more claim
  size_t cancels_lost = 0;          // DELETE answered 200, status not canceled
  size_t keys_lost = 0;             // created (exit 0), refused after the restart
  size_t revocations_lost = 0;      // revoked (exit 0), accepted after the restart
  size_t accepted_not_found = 0;    // an accepted job answered 404 while the server ran
  size_t http_5xx_not_503 = 0;      // from the load's status counts
  bool ok() const {
    return missing_after_kill + not_final + changed_after_final + not_claimed_once + cancels_lost +
               keys_lost + revocations_lost + accepted_not_found + http_5xx_not_503 == 0;
  }
  std::string summary() const;
};

// One round: `server` has just been SIGKILLed and reaped, and `load` stopped.
// Adds what `load` acknowledged to `ledger`, reads the database file,
// restarts the server, waits for every accepted job to reach a final state
// (up to `settle`) and checks everything above against the whole ledger.
KillReport check_after_kill(ServerProc& server, const MixedLoad& load, Ledger& ledger,
                            std::chrono::seconds settle = std::chrono::seconds(60));

}  // namespace e2e
