// pg_listener.hpp: one thread holding one connection that LISTENs on
// mlgate's channels and hands each notification to a callback.
//
// How instances hear of each other: a commit that inserts jobs notifies
// "mlgate_jobs", one that finishes or cancels jobs "mlgate_done" (payload:
// their seqs, comma-separated, one notification per batch), a cancel of a
// running job "mlgate_cancel" (seq), a key change "mlgate_keys" (a trigger).
// PostgreSQL delivers a notification only after its transaction commits,
// and only to connections listening then: a notification sent while this
// connection was down is lost, so after every (re)connection the listener
// calls on_connected, whose job is to look at the database for what may
// have been missed.
//
// The database going away is not an error here: the thread reconnects with
// a backoff (100 ms doubling to 2 s) until stop().
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "pg_conn.hpp"

namespace mlgate {

class PgListener {
 public:
  using OnNotify = std::function<void(const std::string& channel, const std::string& payload)>;
  PgListener(PgOptions opt, std::vector<std::string> channels, OnNotify on_notify,
             std::function<void()> on_connected);
  ~PgListener();  // stop()
  void stop();
  // True while the LISTEN connection is up.
  bool connected() const { return connected_.load(std::memory_order_relaxed); }

 private:
  void run(std::stop_token st);

  PgOptions opt_;
  std::vector<std::string> channels_;
  OnNotify on_notify_;
  std::function<void()> on_connected_;
  std::atomic<bool> connected_{false};
  std::jthread thread_;
};

}  // namespace mlgate
