// exec_model.cpp: the child process behind the `exec` model. The contract and
// the protocol are in exec_model.hpp.
#include "exec_model.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

extern char** environ;

namespace mlgate {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// "30s" for whole seconds (what --exec-timeout usually says), else "1500ms".
std::string duration_text(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// A short, safely escaped excerpt of what the child wrote, for an error
// message that lets the model's author see what went wrong.
std::string excerpt(const std::string& s) {
  constexpr size_t kMax = 80;
  nlohmann::json j = s.size() > kMax ? s.substr(0, kMax) + "..." : s;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A pipe end the server keeps must not be 0, 1 or 2: if the server runs with
// one of those closed, pipe2() may hand it out, and the dup2 onto the
// child's 0/1 would then clobber the other pipe.
int above_stdio(int fd) {
  if (fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  int err = errno;
  close(fd);
  if (moved < 0) throw ModelError(errno_text("cannot start model process: fcntl", err));
  return moved;
}

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
      throw ModelError(errno_text("cannot start model process: pipe", errno));
    read = fds[0];
    write = fds[1];
    try {
      read = above_stdio(read);
      write = above_stdio(write);
    } catch (...) {
      close_both();
      throw;
    }
  }
  void close_both() {
    if (read >= 0) close(read);
    if (write >= 0) close(write);
    read = write = -1;
  }
};

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Blocks SIGPIPE for this thread while it writes to the child, and swallows
// the SIGPIPE a write to a dead child raises, so the process survives a
// crashed model whatever its SIGPIPE disposition (the server ignores it, the
// unit tests do not). Pipes have no MSG_NOSIGNAL; this is the equivalent.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    // Only a SIGPIPE that our own write raised is consumed.
    if (!was_pending_) {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// Polls one descriptor for at most one tick or until the deadline.
int poll_tick(int fd, short events, Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  pollfd p{fd, events, 0};
  int r = poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left, 0, ExecModel::kTickMs)));
  return r < 0 && errno == EINTR ? 0 : r;
}

// Waits up to `ms` for `pid` to exit, leaving it unreaped (WNOWAIT): until
// it is reaped its pid and process group id cannot be reused, so the group
// can still be killed safely afterwards.
bool wait_exited(pid_t pid, int64_t ms) {
  auto until = Clock::now() + milliseconds(ms);
  for (;;) {
    siginfo_t info{};
    int r = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r == 0 && info.si_pid == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // not our child any more
    if (Clock::now() >= until) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// Why a child that closed its end is gone, as the job's error.
std::string exit_text(int status, bool we_killed_it) {
  if (WIFEXITED(status))
    return "model process exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status) && !we_killed_it)
    return "model process was killed by signal " + std::to_string(WTERMSIG(status));
  return "model process closed its standard output";
}

}  // namespace

// Holds the child for one predict() call; releases it however the call ends.
struct ExecModel::Slot {
  ExecModel& m;
  Slot(ExecModel& model, std::stop_token stop) : m(model) { m.acquire(stop); }
  ~Slot() { m.release(); }
};

ExecModel::ExecModel(ExecOptions opt) : opt_(std::move(opt)) { spawn(); }

ExecModel::~ExecModel() {
  if (pid_.load() < 0) return;
  // Closing stdin is the polite way to ask a line-reading child to finish;
  // kill_child() then reaps it and ends anything it left in its group.
  close(to_child_);
  to_child_ = -1;
  wait_exited(pid_.load(), kExitGraceMs);
  kill_child();
}

Prediction ExecModel::predict(std::string_view text, std::stop_token stop) {
  Slot slot(*this, stop);
  // A child that died while idle (the OOM killer, an operator's kill) is
  // reaped and replaced now, rather than failing this job on a dead pipe.
  if (pid_.load() > 0 && wait_exited(pid_.load(), 0)) kill_child();
  wait_restart_delay(stop);
  if (pid_.load() < 0) spawn();
  // Nothing has been sent yet: a cancellation here leaves the child in step.
  if (stop.stop_requested()) throw ModelError("model call canceled");

  uint64_t id = ++next_id_;
  nlohmann::json req = {{"id", id}, {"text", text}};
  // dump() escapes control characters, so a newline in the text stays inside
  // the line; `replace` keeps invalid UTF-8 from throwing a type_error.
  std::string line = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';

  auto deadline = Clock::now() + milliseconds(opt_.timeout_ms);
  send(line, deadline, stop);
  std::string reply = read_line(deadline, stop);
  Prediction p = parse_response(reply, id);  // throws for {"error": ...} too
  failures_ = 0;
  if (!pending_.empty()) {
    // More than one line for one request: the next reply we read would be
    // this job's leftovers. This answer is good (its id matched); the child
    // is not in step any more, so it is replaced before the next job.
    pending_.clear();
    kill_child();
    ++failures_;
    restart_at_ = Clock::now();
  }
  return p;
}

void ExecModel::acquire(std::stop_token stop) {
  std::unique_lock lock(mu_);
  if (!free_cv_.wait(lock, stop, [&] { return !busy_; }))
    throw ModelError("model call canceled");
  busy_ = true;
}

void ExecModel::release() {
  {
    std::lock_guard lock(mu_);
    busy_ = false;
  }
  free_cv_.notify_one();
}

// After `n` consecutive failures the next child starts no sooner than
// 0 (n = 1), 200 ms, 400 ms, ... 5 s after the last one died: a model that
// crashes at start-up would otherwise be respawned as fast as jobs arrive.
void ExecModel::wait_restart_delay(std::stop_token stop) {
  while (pid_.load() < 0 && Clock::now() < restart_at_) {
    if (stop.stop_requested()) throw ModelError("model call canceled");
    auto left = std::chrono::duration_cast<milliseconds>(restart_at_ - Clock::now());
    std::this_thread::sleep_for(std::min(left, milliseconds(kTickMs)));
  }
}

void ExecModel::spawn() {
  Pipe in, out;
  std::string cmd = opt_.command;
  char sh[] = "/bin/sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, cmd.data(), nullptr};
  const pid_t parent = getpid();
  // fork + exec rather than posix_spawn, for one thing posix_spawn cannot
  // do: PR_SET_PDEATHSIG, so that the model dies with the server even when
  // the server is SIGKILLed (a model waiting on something else than its
  // standard input would otherwise live on, orphaned, holding its memory).
  // (The signal comes when the thread that forked ends: a worker thread,
  // which lives as long as the worker pool.) Between fork and exec only
  // async-signal-safe calls.
  int err = 0;
  pid_t pid = fork();
  if (pid == 0) {
    // Own process group: one kill() reaches whatever the shell started.
    setpgid(0, 0);
    // Signals as a fresh process would have them: the server blocks
    // SIGTERM and SIGINT (one thread takes them with sigwait) and ignores
    // SIGPIPE, and both would otherwise be inherited through exec.
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the server died before prctl
    dup2(in.read, 0);
    dup2(out.write, 1);
    // The server's sockets and database must not live on in the model (a
    // listening socket held by a child would outlast a server restart).
    closefrom(3);
    execv("/bin/sh", argv);
    _exit(127);
  }
  if (pid < 0) err = errno;
  close(in.read);
  close(out.write);
  if (err != 0) {
    close(in.write);
    close(out.read);
    ++failures_;
    restart_at_ = Clock::now() + milliseconds(std::min<int64_t>(kMaxRestartDelayMs, 1000));
    throw ModelError(errno_text("cannot start model process", err));
  }
  set_nonblocking(in.write);
  set_nonblocking(out.read);
  to_child_ = in.write;
  from_child_ = out.read;
  pending_.clear();
  pid_.store(pid);
}

void ExecModel::check_deadline(Clock::time_point deadline, std::stop_token stop) {
  // The child is mid-request: abandoning it would leave its late answer to
  // be read as the next job's, so a canceled call replaces it.
  if (stop.stop_requested()) fail("model call canceled", false);
  if (Clock::now() >= deadline) fail("model timed out after " + duration_text(opt_.timeout_ms));
}

void ExecModel::send(const std::string& line, Clock::time_point deadline,
                     std::stop_token stop) {
  SigpipeGuard guard;
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(to_child_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      // The child is not reading (its pipe buffer is full): wait, bounded.
      check_deadline(deadline, stop);
      poll_tick(to_child_, POLLOUT, deadline);
    } else if (errno == EPIPE) {
      fail_exited();
    } else if (errno != EINTR) {
      fail(errno_text("cannot write to model process", errno));
    }
  }
}

std::string ExecModel::read_line(Clock::time_point deadline, std::stop_token stop) {
  char buf[65536];
  const std::string too_long = "model response is longer than " + std::to_string(kMaxResponseBytes) + " bytes";
  for (;;) {
    if (size_t nl = pending_.find('\n'); nl != std::string::npos) {
      // The read that crossed the limit may also have brought the newline.
      if (nl > kMaxResponseBytes) fail(too_long);
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (pending_.size() > kMaxResponseBytes) fail(too_long);
    check_deadline(deadline, stop);
    if (poll_tick(from_child_, POLLIN, deadline) <= 0) continue;
    ssize_t n = read(from_child_, buf, sizeof buf);
    if (n > 0) pending_.append(buf, static_cast<size_t>(n));
    else if (n == 0) fail_exited();
    else if (errno != EAGAIN && errno != EINTR)
      fail(errno_text("cannot read from model process", errno));
  }
}

Prediction ExecModel::parse_response(const std::string& line, uint64_t id) {
  ExecReply r = parse_exec_reply(line, id);
  if (r.kind == ExecReply::kPrediction) return std::move(r.prediction);
  if (r.kind == ExecReply::kModelError) {
    failures_ = 0;  // a well-formed refusal: the child is fine and in step
    throw ModelError(r.message);
  }
  fail(r.message);
}

ExecReply parse_exec_reply(std::string_view line, uint64_t id) {
  ExecReply out;
  auto out_of_step = [&](std::string why) {
    out.message = std::move(why);
    return out;
  };
  nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
  if (!r.is_object()) return out_of_step("model response is not a JSON object: " + excerpt(std::string(line)));
  auto rid = r.find("id");
  if (rid == r.end() || !rid->is_number_unsigned() || rid->get<uint64_t>() != id) {
    // The id as the child wrote it, in ASCII and cut short: it could be a
    // megabyte of array, and the message becomes the job's stored error.
    std::string shown = rid == r.end() ? "missing" : rid->dump(-1, ' ', true);
    if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
    return out_of_step("model response has id " + shown + ", expected " + std::to_string(id));
  }
  if (auto e = r.find("error"); e != r.end()) {
    if (!e->is_string()) return out_of_step("model response has an \"error\" that is not a string");
    std::string msg = e->get<std::string>();
    if (msg.size() > 1000) {
      // Cut at a character boundary: a cut UTF-8 sequence in the stored
      // error made `mlgate jobs show` fail to print the job.
      size_t n = 1000;
      while (n > 0 && (static_cast<unsigned char>(msg[n]) & 0xc0) == 0x80) --n;
      msg = msg.substr(0, n) + "...";
    }
    out.kind = ExecReply::kModelError;
    out.message = "model error: " + msg;
    return out;
  }
  auto label = r.find("label");
  auto score = r.find("score");
  auto detail = r.find("detail");
  if (label == r.end() || !label->is_string())
    return out_of_step("model response has no string \"label\": " + excerpt(std::string(line)));
  if (score == r.end() || !score->is_number() || !std::isfinite(score->get<double>()))
    return out_of_step("model response has no number \"score\": " + excerpt(std::string(line)));
  if (detail != r.end() && !detail->is_null() && !detail->is_object())
    return out_of_step("model response has a \"detail\" that is not an object");
  out.kind = ExecReply::kPrediction;
  out.prediction.label = label->get<std::string>();
  out.prediction.score = score->get<double>();
  out.prediction.detail = detail != r.end() && detail->is_object() ? std::move(*detail)
                                                                  : nlohmann::json::object();
  return out;
}

void ExecModel::fail(const std::string& why, bool childs_fault) {
  kill_child();
  if (childs_fault) {
    ++failures_;
    int64_t delay = failures_ <= 1 ? 0 : std::min<int64_t>(kMaxRestartDelayMs,
                                                          100LL << std::min(failures_ - 1, 10));
    restart_at_ = Clock::now() + milliseconds(delay);
  }
  throw ModelError(why);
}

// The child closed its stdin or stdout: most likely it is exiting. A moment's
// wait lets the job's error carry the child's own exit status.
void ExecModel::fail_exited() {
  bool exited = wait_exited(pid_.load(), 200);
  int status = kill_child();  // a zombie's status is its own, not our SIGKILL
  fail(exit_text(status, !exited));
}

// Kills the child's process group and reaps the child. Returns its wait
// status (0 if there was no child).
int ExecModel::kill_child() {
  pid_t pid = pid_.exchange(-1);
  int status = 0;
  if (pid > 0) {
    // Still unreaped, so neither pid nor process group can have been reused.
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);  // in case it left the group (setsid)
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  to_child_ = from_child_ = -1;
  pending_.clear();
  return status;
}

}  // namespace mlgate
