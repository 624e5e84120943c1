#include "log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "clock.hpp"
#include "thread_name.hpp"

namespace mlgate {

Log& Log::instance() {
  static Log log;
  return log;
}

bool is_journal_stream(const char* journal_stream, int fd) {
  if (!journal_stream) return false;
  unsigned long long dev = 0, ino = 0;
  char end = 0;
  if (std::sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &end) != 2) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

std::string stderr_priority_prefix(int priority) {
  if (!is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO)) return "";
  return "<" + std::to_string(priority) + ">";
}

int syslog_priority(std::string_view level) {
  if (level == "error") return 3;
  if (level == "warn") return 4;
  if (level == "info") return 6;
  return 7;
}

Log::Log()
    : journal_(is_journal_stream(std::getenv("JOURNAL_STREAM"), STDERR_FILENO)),
      thread_([this](std::stop_token st) {
        set_thread_name("mlg-log");
        run(st);
      }) {}

Log::~Log() {
  flush();
  thread_.request_stop();
}

void Log::write(std::string_view level, std::string_view msg, nlohmann::json fields) {
  nlohmann::json j = {{"ts", rfc3339(wall_ms())}, {"level", level}, {"msg", msg}};
  if (fields.is_object())
    for (auto& [k, v] : fields.items()) j[k] = std::move(v);
  // Replace invalid UTF-8 rather than throw: a log line must never fail.
  line(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), syslog_priority(level));
}

void Log::line(std::string s, int priority) {
  if (journal_) {
    const char prefix[] = {'<', static_cast<char>('0' + (priority & 7)), '>'};
    s.insert(0, prefix, sizeof prefix);
  }
  s.push_back('\n');
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    was_empty = queue_.empty();
    queue_.push_back(std::move(s));
    ++queued_total_;
  }
  // The writer waits only on an empty queue; under load it finds the next
  // batch itself, so most lines cost no wake-up.
  if (was_empty) cv_.notify_one();
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {  // ASCII only: never an invalid UTF-8 line
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void Log::flush() {
  std::unique_lock lock(mu_);
  uint64_t target = queued_total_;
  cv_.notify_one();
  flushed_cv_.wait(lock, [&] { return written_total_ >= target; });
}

void Log::run(std::stop_token st) {
  std::vector<std::string> batch;
  std::string buf;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, st, [&] { return !queue_.empty(); });
      if (queue_.empty()) return;
      batch.swap(queue_);
    }
    buf.clear();
    for (auto& s : batch) buf += s;
    for (size_t off = 0; off < buf.size();) {
      ssize_t n = ::write(STDERR_FILENO, buf.data() + off, buf.size() - off);
      if (n <= 0) break;  // stderr gone: nothing useful left to do
      off += static_cast<size_t>(n);
    }
    {
      std::lock_guard lock(mu_);
      written_total_ += batch.size();
    }
    flushed_cv_.notify_all();
    batch.clear();
  }
}

}  // namespace mlgate
