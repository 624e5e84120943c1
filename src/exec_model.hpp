// exec_model.hpp: the `exec` plug-in model (DESIGN.md "Models"). A user's own
// model runs as one long-lived child process that answers one JSON line on
// its standard output for each JSON line it reads on its standard input.
//
// Protocol (one request, then one response, strictly alternating):
//   request   {"id":7,"text":"..."}\n
//             `id` counts up from 1 per ExecModel. `text` is a JSON string,
//             so a newline in it is "\n" and every job is exactly one line;
//             invalid UTF-8 is replaced by U+FFFD.
//   response  {"id":7,"label":"positive","score":0.93,"detail":{...}}\n
//          or {"id":7,"error":"input too long"}\n
//             `id` must repeat the request's. A success needs a string
//             `label` and a finite number `score`; `detail` is optional (an
//             object, {} when absent). Other keys are ignored, for models
//             written against a later version. A line with "error" fails
//             the job with "model error: <message>" and keeps the child.
//
// Contract:
// - predict() is safe to call from any number of threads. There is one child
//   and it holds one request at a time, so callers queue for it (a model that
//   loads gigabytes should be loaded once, not once per worker); parallelism
//   is the child's own business.
// - Every failure of a job is a ModelError whose message is recorded with the
//   job; nothing here terminates the server, and SIGPIPE is never raised in
//   the server whatever its disposition (the write blocks it for the thread).
// - A child that times out, exits, closes its output, writes a line that is
//   not a well-formed response (wrong id, not JSON, no label/score), writes
//   more than kMaxResponseBytes without a newline, or writes more than one
//   line for one request is out of step with us: it is killed (SIGKILL to its
//   process group, so its own children go too), reaped at once (no zombies),
//   and a new one is started by the next job. Consecutive failures delay that
//   restart (0, 0.2 s, 0.4 s ... up to 5 s) so a crash-looping child does not
//   spin; one good response resets the delay. The delay is not counted in
//   the job's timeout. A child found dead when a job comes (it died while
//   idle) is reaped and replaced before the job is sent, so that job does
//   not fail for it.
// - Timeout: a job fails with "model timed out after 30s" when the child has
//   not answered within `timeout_ms` of the job getting the child (the wait
//   for the child and the restart delay do not count; a restarted child's
//   start-up time does, so set --exec-timeout above the model's load time).
// - Cancellation: when `stop` is requested the job fails within ~50 ms with
//   "model call canceled". If the child was working on it, it is killed and
//   restarted, because its late answer would otherwise be read as the next
//   job's.
// - The child is `/bin/sh -c COMMAND` (so the command may use quoting, $VARS
//   and redirections), started with posix_spawn in its own process group,
//   with the default signal mask and dispositions (the server blocks SIGTERM
//   and ignores SIGPIPE; the child should not inherit that), no descriptors
//   but 0, 1 and 2, and the server's standard error as its own: what it
//   writes there reaches the same journal, so it must not log texts either.
// - The constructor starts the child so a slow model loads while the server
//   starts; it throws ModelError only when the process cannot be spawned at
//   all (a command that is not found shows up as an exit status 127 on the
//   first job). The destructor closes the child's stdin, gives it
//   kExitGraceMs to exit, then kills and reaps it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "model.hpp"

namespace mlgate {

// One reply line judged against the id of the request it answers, as the
// protocol above says. Pure (no child involved): predict() acts on it, and
// the tests and the fuzz target call it on any bytes.
struct ExecReply {
  enum Kind {
    kPrediction,  // well-formed success: `prediction` is set
    kModelError,  // well-formed {"error": ...}: the job fails, the child stays
    kOutOfStep,   // anything else: the job fails and the child is replaced
  };
  Kind kind = kOutOfStep;
  Prediction prediction;
  std::string message;  // the job's error for the two failures
};
ExecReply parse_exec_reply(std::string_view line, uint64_t id);

struct ExecOptions {
  std::string command;          // run as /bin/sh -c command
  int64_t timeout_ms = 30'000;  // per job, from the moment it has the child
};

class ExecModel final : public Model {
 public:
  static constexpr size_t kMaxResponseBytes = size_t{1} << 20;  // one response line
  static constexpr int64_t kExitGraceMs = 1000;  // destructor: after EOF on its stdin
  static constexpr int64_t kTickMs = 50;         // how often a waiting call checks `stop`
  static constexpr int64_t kMaxRestartDelayMs = 5000;

  // Starts the child. Throws ModelError when it cannot be spawned.
  explicit ExecModel(ExecOptions opt);
  ~ExecModel() override;
  ExecModel(const ExecModel&) = delete;
  ExecModel& operator=(const ExecModel&) = delete;

  std::string_view name() const override { return "exec"; }
  Prediction predict(std::string_view text, std::stop_token stop) override;

  // The running child's pid, -1 when there is none (it died and the next
  // job will start one). For tests and diagnostics.
  pid_t child_pid() const { return pid_.load(); }

 private:
  struct Slot;  // RAII: holds the child for one call
  void acquire(std::stop_token stop);
  void release();
  void wait_restart_delay(std::stop_token stop);
  void spawn();
  void send(const std::string& line, std::chrono::steady_clock::time_point deadline,
            std::stop_token stop);
  std::string read_line(std::chrono::steady_clock::time_point deadline, std::stop_token stop);
  Prediction parse_response(const std::string& line, uint64_t id);
  void check_deadline(std::chrono::steady_clock::time_point deadline, std::stop_token stop);
  [[noreturn]] void fail(const std::string& why, bool childs_fault = true);
  [[noreturn]] void fail_exited();
  int kill_child();

  const ExecOptions opt_;

  std::mutex mu_;                    // guards busy_
  std::condition_variable_any free_cv_;
  bool busy_ = false;                // a call holds the child and the fields below

  // Owned by the call that set busy_ (and by the constructor and destructor).
  std::atomic<pid_t> pid_{-1};
  int to_child_ = -1;                // the child's stdin, non-blocking
  int from_child_ = -1;              // the child's stdout, non-blocking
  std::string pending_;              // bytes read past the last full line
  uint64_t next_id_ = 0;
  int failures_ = 0;                 // consecutive failures blamed on the child
  std::chrono::steady_clock::time_point restart_at_{};
};

}  // namespace mlgate
