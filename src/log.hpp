// log.hpp: structured JSON log lines on standard error.
//
// Contract: log() never blocks on the terminal or journald: lines go to a
// bounded in-memory queue that one thread writes out in batches; when the
// queue is full the line is dropped and counted (dropped()), so a flood of
// requests cannot stall request threads or grow memory. Values are JSON
// strings escaped by nlohmann/json: a client's bytes can never forge a line.
// Callers must never pass an API key or a job's text.
//
// When standard error is the systemd journal (JOURNAL_STREAM names it),
// each line starts with its syslog priority, "<3>" for errors, "<4>" for
// warnings, "<6>" for info (sd-daemon(3)): journald strips the prefix and
// files the line at that priority, so `journalctl -p warning` shows
// warnings and errors only. Elsewhere lines are plain JSON.
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

// True when `fd` is the stream that JOURNAL_STREAM ("DEVICE:INODE", both
// decimal, set by systemd for a service whose stdout or stderr goes to the
// journal) names. nullptr or a malformed value: false.
bool is_journal_stream(const char* journal_stream, int fd);

// "<N>" when standard error is the journal, else "": for the few lines
// main.cpp writes to stderr itself (a startup failure is priority 3).
std::string stderr_priority_prefix(int priority);

// Syslog priority of a level name: error 3, warn 4, info 6, anything else 7.
int syslog_priority(std::string_view level);

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
  // A preformatted JSON line (the access log builds its own, cheaply) of
  // syslog priority `priority` (6: info).
  void line(std::string s, int priority = 6);

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
  const bool journal_;  // stderr is the journal: lines carry "<N>"
  std::jthread thread_;
};

}  // namespace mlgate
