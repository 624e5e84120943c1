#include "pg_listener.hpp"

#include <poll.h>

#include <chrono>

#include "log.hpp"
#include "thread_name.hpp"

namespace mlgate {

PgListener::PgListener(PgOptions opt, std::vector<std::string> channels, OnNotify on_notify,
                       std::function<void()> on_connected)
    : opt_(std::move(opt)),
      channels_(std::move(channels)),
      on_notify_(std::move(on_notify)),
      on_connected_(std::move(on_connected)) {
  thread_ = std::jthread([this](std::stop_token st) {
    set_thread_name("mlg-pg-listen");
    run(st);
  });
}

PgListener::~PgListener() { stop(); }

void PgListener::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void PgListener::run(std::stop_token st) {
  auto backoff = std::chrono::milliseconds(100);
  bool was_down = false;
  int idle = 0;  // quiet polls in a row
  while (!st.stop_requested()) {
    std::unique_ptr<PgConn> c;
    try {
      c = std::make_unique<PgConn>(opt_);
      for (const auto& ch : channels_) c->exec("LISTEN " + ch);
      connected_.store(true, std::memory_order_relaxed);
      if (was_down) Log::instance().info("postgres: notifications connection restored");
      was_down = false;
      backoff = std::chrono::milliseconds(100);
      if (on_connected_) on_connected_();
      while (!st.stop_requested()) {
        // Wake at least every 250 ms to notice stop(); a notification
        // wakes the poll at once.
        pollfd p{c->socket(), POLLIN, 0};
        int n = ::poll(&p, 1, 250);
        if (n < 0) continue;  // EINTR
        if (n > 0) c->consume_input();
        for (auto& [channel, payload] : c->take_notifications()) on_notify_(channel, payload);
        if (n == 0) {
          // Idle: a cheap round trip now and then tells a silent dead
          // server (no FIN) from a quiet one.
          if (++idle % 20 == 0) c->exec("SELECT 1");
        }
      }
    } catch (const std::exception& e) {
      connected_.store(false, std::memory_order_relaxed);
      if (!was_down)
        Log::instance().warn("postgres: notifications connection lost; reconnecting",
                             {{"error", e.what()}});
      was_down = true;
    }
    connected_.store(false, std::memory_order_relaxed);
    // Backoff, cut short by stop().
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, st, backoff, [] { return false; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace mlgate
