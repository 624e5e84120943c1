// The exec plug-in model against small POSIX sh models (no awk: mawk, Debian's
// awk, waits to fill its input buffer from a pipe; no Python needed). Each
// model reads {"id":N,"text":"..."} lines and echoes the text's JSON literal
// back as the label, unless the text asks it to misbehave.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <stop_token>
#include <thread>
#include <vector>

#include "exec_model.hpp"

using namespace mlgate;
using namespace std::chrono;

namespace {

// A sh model: for each line, `id`, `t` (the text's JSON string literal,
// quotes included) and `n` (lines read), then `rules` (which may `continue`
// to skip the echo). Our requests are always compact {"id":N,"text":"..."},
// so no JSON parser is needed; `read -r` keeps the escapes as they are.
std::string sh_model(const std::string& rules = "") {
  return R"(n=0; while IFS= read -r line; do n=$((n+1)); rest=${line#\{\"id\":}; )"
         R"(id=${rest%%,*}; t=${rest#*,\"text\":}; t=${t%\}}; )" +
         rules +
         R"( printf '{"id":%s,"label":%s,"score":0.5,"detail":{"n":%d}}\n' "$id" "$t" "$n"; done)";
}

ExecModel make(const std::string& cmd, int64_t timeout_ms = 5000) {
  return ExecModel(ExecOptions{cmd, timeout_ms});
}

std::string error_of(ExecModel& m, std::string_view text, std::stop_token stop = {}) {
  try {
    m.predict(text, stop);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

// True once `pid` is neither running nor a zombie waiting to be reaped.
bool gone(pid_t pid) { return kill(pid, 0) == -1 && errno == ESRCH; }

double seconds_since(steady_clock::time_point t0) {
  return duration<double>(steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("exec: a well-behaved child answers with label, score and detail") {
  ExecModel m = make(sh_model());
  Prediction p = m.predict("hello", {});
  CHECK(p.label == "hello");
  CHECK(p.score == 0.5);
  CHECK(p.detail == nlohmann::json{{"n", 1}});
  CHECK(m.predict("second", {}).detail["n"] == 2);  // the same child served both
}

TEST_CASE("exec: a newline or quote in the text stays inside one request line") {
  ExecModel m = make(sh_model());
  CHECK(m.predict("line one\nline \"two\"", {}).label == "line one\nline \"two\"");
  CHECK(m.predict("after", {}).label == "after");  // still in step
}

TEST_CASE("exec: a child that crashes on one input fails that job; the next job gets a new child") {
  ExecModel m = make(sh_model(R"(case "$t" in *crash*) exit 3;; esac;)"));
  pid_t first = m.child_pid();
  CHECK(error_of(m, "please crash") == "model process exited with status 3");
  CHECK(m.child_pid() == -1);
  CHECK(gone(first));
  Prediction p = m.predict("fine", {});
  CHECK(p.label == "fine");
  CHECK(p.detail["n"] == 1);  // a fresh process
  CHECK(m.child_pid() != first);
}

TEST_CASE("exec: a hung child times out within the timeout and is killed with its group") {
  // `sleep` is the shell's own child: the process-group kill must reach it
  // too, or it would hold the pipe open and outlive the model.
  ExecModel m = make(sh_model(R"(case "$t" in *hang*) sleep 30;; esac;)"), 300);
  pid_t pid = m.child_pid();
  auto t0 = steady_clock::now();
  CHECK(error_of(m, "hang") == "model timed out after 300ms");
  CHECK(seconds_since(t0) < 1.5);
  CHECK(gone(pid));
  CHECK(m.predict("ok", {}).label == "ok");
}

TEST_CASE("exec: the timeout message names whole seconds as --exec-timeout does") {
  ExecModel m = make("sleep 30", 1000);
  CHECK(error_of(m, "x") == "model timed out after 1s");
}

TEST_CASE("exec: a canceled job returns at once and its child is replaced") {
  ExecModel m = make(sh_model(R"(case "$t" in *hang*) sleep 30;; esac;)"), 20'000);
  pid_t pid = m.child_pid();
  std::stop_source src;
  std::jthread canceler([&] {
    std::this_thread::sleep_for(milliseconds(200));
    src.request_stop();
  });
  auto t0 = steady_clock::now();
  CHECK(error_of(m, "hang", src.get_token()) == "model call canceled");
  CHECK(seconds_since(t0) < 2.0);
  CHECK(gone(pid));
  CHECK(m.predict("next", {}).label == "next");
}

TEST_CASE("exec: a job canceled while waiting for a busy child leaves that child alone") {
  ExecModel m = make(sh_model(R"(case "$t" in *slow*) sleep 1;; esac;)"), 5000);
  std::string slow_label;
  std::jthread holder([&] {
    try {
      slow_label = m.predict("slow", {}).label;
    } catch (const ModelError& e) {
      slow_label = e.what();
    }
  });
  std::this_thread::sleep_for(milliseconds(200));  // holder has the child
  std::stop_source src;
  std::jthread canceler([&] {
    std::this_thread::sleep_for(milliseconds(100));
    src.request_stop();
  });
  CHECK(error_of(m, "waiting", src.get_token()) == "model call canceled");
  holder.join();
  CHECK(slow_label == "slow");
}

TEST_CASE("exec: malformed responses fail the job and the next job still works") {
  ExecModel m = make(sh_model(R"(case "$t" in
      *garbage*) echo "Loading weights..."; continue;;
      *noscore*) printf '{"id":%s,"label":"x"}\n' "$id"; continue;;
      *badid*) printf '{"id":%s,"label":"x","score":1}\n' $((id + 1)); continue;;
      *baddetail*) printf '{"id":%s,"label":"x","score":1,"detail":[]}\n' "$id"; continue;;
    esac;)"));
  CHECK(error_of(m, "garbage") ==
        R"(model response is not a JSON object: "Loading weights...")");
  CHECK(m.predict("a", {}).label == "a");
  CHECK(error_of(m, "noscore") ==
        R"(model response has no number "score": "{\"id\":3,\"label\":\"x\"}")");
  CHECK(error_of(m, "badid") == "model response has id 5, expected 4");
  CHECK(error_of(m, "baddetail") == R"(model response has a "detail" that is not an object)");
  CHECK(m.predict("b", {}).label == "b");
}

TEST_CASE("exec: an {\"error\"} response fails the job and keeps the same child") {
  ExecModel m = make(sh_model(
      R"(case "$t" in *refuse*) printf '{"id":%s,"error":"too rude"}\n' "$id"; continue;; esac;)"));
  pid_t pid = m.child_pid();
  CHECK(error_of(m, "refuse this") == "model error: too rude");
  CHECK(m.child_pid() == pid);
  CHECK(m.predict("polite", {}).detail["n"] == 2);
}

TEST_CASE("exec: a response line over the limit fails the job without growing without bound") {
  // 2 MiB of 'x' and no newline; the reader must give up past 1 MiB.
  ExecModel m = make(sh_model(
      R"(case "$t" in *huge*) head -c 2097152 /dev/zero | tr '\0' x; continue;; esac;)"));
  CHECK(error_of(m, "huge") == "model response is longer than 1048576 bytes");
  CHECK(m.predict("small", {}).label == "small");
}

TEST_CASE("exec: a response line over the limit is refused even when its newline comes in the same read") {
  // 1 MiB + 24 bytes, then a newline: the read that crosses the limit also
  // brings the newline, and the line was taken (seen end to end, test_exec_model).
  ExecModel m = make(sh_model(
      R"(case "$t" in *long*) head -c 1048600 /dev/zero | tr '\0' x; echo; continue;; esac;)"));
  CHECK(error_of(m, "long") == "model response is longer than 1048576 bytes");
  CHECK(m.predict("small", {}).label == "small");
}

TEST_CASE("exec: two lines for one request: the answer counts, the child is replaced") {
  ExecModel m = make(sh_model(R"(case "$t" in *twice*)
      printf '{"id":%s,"label":"dup","score":1}\n{"id":%s,"label":"dup","score":1}\n' "$id" "$id";
      continue;; esac;)"));
  pid_t pid = m.child_pid();
  // Both lines arrive in one write, so the leftover is seen with the answer.
  CHECK(m.predict("twice", {}).label == "dup");
  CHECK(gone(pid));
  CHECK(m.predict("next", {}).label == "next");
}

TEST_CASE("exec: a child that has already exited fails the job with its status, no SIGPIPE") {
  // The unit-test process does not ignore SIGPIPE: if the write to the dead
  // child raised it, this test binary would die here.
  ExecModel m = make("exit 7");
  std::this_thread::sleep_for(milliseconds(200));
  CHECK(error_of(m, std::string(200'000, 'a')) == "model process exited with status 7");
}

TEST_CASE("exec: a command that is not found fails each job with status 127") {
  ExecModel m = make("/nonexistent/model-binary");
  CHECK(error_of(m, "x") == "model process exited with status 127");
}

TEST_CASE("exec: consecutive failures delay the restarts (0, 0.2 s, 0.4 s, ...)") {
  ExecModel m = make("exit 1");
  auto t0 = steady_clock::now();
  for (int i = 0; i < 4; ++i) CHECK(error_of(m, "x") == "model process exited with status 1");
  // Restarts before jobs 2, 3 and 4 wait 0, 200 and 400 ms.
  CHECK(seconds_since(t0) >= 0.6);
  CHECK(seconds_since(t0) < 3.0);
}

TEST_CASE("exec: four threads calling at once each get their own answer") {
  ExecModel m = make(sh_model());
  constexpr int kThreads = 4, kCalls = 50;
  std::vector<int> wrong(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i) {
          std::string text = "thread " + std::to_string(t) + " call " + std::to_string(i);
          if (m.predict(text, {}).label != text) ++wrong[t];
        }
      });
  }
  for (int t = 0; t < kThreads; ++t) CHECK(wrong[t] == 0);
  CHECK(m.predict("last", {}).detail["n"] == kThreads * kCalls + 1);
}

TEST_CASE("exec: the destructor reaps a child that ends on EOF and kills one that does not") {
  pid_t polite, stubborn;
  {
    ExecModel m = make(sh_model());
    polite = m.child_pid();
  }
  CHECK(gone(polite));
  auto t0 = steady_clock::now();
  {
    ExecModel m = make("trap '' TERM HUP; while :; do sleep 1; done");
    stubborn = m.child_pid();
  }
  CHECK(gone(stubborn));
  CHECK(seconds_since(t0) < ExecModel::kExitGraceMs / 1000.0 + 1.0);
}
