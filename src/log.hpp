// log.hpp: structured JSON log lines on standard error.
//
// Contract: log() never blocks on the terminal or journald: lines go to a
// bounded in-memory queue that one thread writes out in batches; when the
// queue is full the line is dropped and counted (dropped()), so a flood of
// requests cannot stall request threads or grow memory. Values are JSON
// strings escaped by nlohmann/json: a client's bytes can never forge a line.
// Callers must never pass an API key or a job's text.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlgate {

// Appends `s` as a JSON string literal, every byte outside printable ASCII
// escaped (for hand-built lines on hot paths; the result is always valid).
void append_json_string(std::string& out, std::string_view s);

class Log {
 public:
  static Log& instance();

  // {"ts": ..., "level": level, "msg": msg, ...fields}
  void write(std::string_view level, std::string_view msg,
             nlohmann::json fields = nlohmann::json::object());
  void info(std::string_view msg, nlohmann::json f = nlohmann::json::object()) {
    write("info", msg, std::move(f));
  }
  void warn(std::string_view msg, nlohmann::json f = nlohmann::json::object()) {
    write("warn", msg, std::move(f));
  }
  void error(std::string_view msg, nlohmann::json f = nlohmann::json::object()) {
    write("error", msg, std::move(f));
  }
  // A preformatted JSON line (the access log builds its own, cheaply).
  void line(std::string s);

  void flush();  // waits until every queued line is written
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  ~Log();

 private:
  Log();
  void run(std::stop_token st);

  static constexpr size_t kMaxQueued = 65536;
  std::mutex mu_;  // guards queue_ and written_
  std::condition_variable_any cv_;
  std::condition_variable_any flushed_cv_;
  std::vector<std::string> queue_;
  uint64_t queued_total_ = 0, written_total_ = 0;
  std::atomic<uint64_t> dropped_{0};
  std::jthread thread_;
};

}  // namespace mlgate
