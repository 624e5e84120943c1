// The exec plug-in model behind the real server: a user's model serves jobs
// through the same API, and a crashing or hanging one fails jobs, not the
// server.
#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.hpp"

using namespace e2e;

namespace {

// A POSIX sh model that runs `rules` on each request line, then answers "ok".
std::string ok_model_with(const std::string& rules) {
  return "while IFS= read -r line; do " + rules +
         R"( id=${line#\{\"id\":}; printf '{"id":%s,"label":"ok","score":1}\n' "${id%%,*}"; done)";
}

bool have_python3() { return std::system("python3 -c '' >/dev/null 2>&1") == 0; }

json run_job(ServerProc& s, const std::string& key, const std::string& text) {
  auto c = s.client();
  auto r = post_predict(c, key, text);
  REQUIRE(r);
  REQUIRE(r->status == 202);
  return wait_finished(c, key, json::parse(r->body)["job_uuid"]);
}

}  // namespace

TEST_CASE("exec: the example Python model serves a job to completed with its label") {
  if (!have_python3()) {
    MESSAGE("SKIPPED: python3 is not installed");
    return;
  }
  ServerProc s({"--model", "exec", "--exec", "python3 " + example_path("exec_keyword_model.py")});
  std::string key = s.create_key("alice");
  json done = run_job(s, key, "I love it, a wonderful film");
  CHECK(done["status"] == "completed");
  CHECK(done["result_label"] == "positive");
  CHECK(done["result_score"] == 1.0);
  CHECK(done["result"] == json{{"positive_words", 2}, {"negative_words", 0}});

  json refused = run_job(s, key, "12345 67890 !!!");  // the example: {"error": "no words to score"}
  CHECK(refused["status"] == "failed");
  CHECK(refused["error"] == "model error: no words to score");

  auto root = s.client().Get("/");
  REQUIRE(root);
  CHECK(json::parse(root->body)["model"] == "exec");
}

TEST_CASE("exec: the sh example model serves jobs without Python") {
  ServerProc s({"--model", "exec", "--exec", "sh " + example_path("exec_echo_model.sh")});
  std::string key = s.create_key("alice");
  json done = run_job(s, key, "two lines\nof text");
  CHECK(done["status"] == "completed");
  CHECK(done["result_label"] == "two lines\nof text");
}

TEST_CASE("exec: a crashing model fails the job after max attempts; the server stays healthy") {
  std::string model = ok_model_with(R"(case "$line" in *boom*) exit 3;; esac;)");
  ServerProc s({"--model", "exec", "--exec", model, "--max-attempts", "2"});
  std::string key = s.create_key("alice");
  json failed = run_job(s, key, "this one goes boom");
  CHECK(failed["status"] == "failed");
  CHECK(failed["attempts"] == 2);
  CHECK(failed["error"] == "model process exited with status 3");

  auto health = s.client().Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  json after = run_job(s, key, "a calm text here");
  CHECK(after["status"] == "completed");
  CHECK(after["result_label"] == "ok");
}

TEST_CASE("exec: a model that hangs fails its job with the timeout; the next job completes") {
  std::string model = ok_model_with(R"(case "$line" in *hang*) sleep 60;; esac;)");
  ServerProc s({"--model", "exec", "--exec", model, "--exec-timeout", "1s",
                "--max-attempts", "1"});
  std::string key = s.create_key("alice");
  json failed = run_job(s, key, "this one will hang");
  CHECK(failed["status"] == "failed");
  CHECK(failed["error"] == "model timed out after 1s");
  CHECK(run_job(s, key, "this one is fine")["status"] == "completed");
}

TEST_CASE("exec: serve refuses --model exec without --exec") {
  CliResult r = run_cli({"serve", "--model", "exec", "--port", "0"});
  CHECK(r.status == 2);
  CHECK(r.err.find("--exec") != std::string::npos);
}

namespace {

// The model's process (/bin/sh -c COMMAND): the server's child.
pid_t model_pid(const ServerProc& s) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("PPid:", 0) == 0 && std::atoi(line.c_str() + 5) == s.pid())
        return static_cast<pid_t>(std::atoi(e.path().filename().c_str()));
  }
  return -1;
}

json run_job_ok(ServerProc& s, const std::string& key) {
  json j = run_job(s, key, "an ordinary text for the model");
  CHECK(j["status"] == "completed");
  return j;
}

}  // namespace

TEST_CASE("exec: garbage answers fail only their own job, each with its reason, and the next job completes") {
  // What a broken model might print: a log line, another job's id, invalid
  // UTF-8, a line past the 1 MiB cap, a megabyte-shaped id, two lines.
  const std::string model = R"(while IFS= read -r line; do id=${line#\{\"id\":}; id=${id%%,*}; case "$line" in)"
      R"( *notjson*) echo "Loading weights...";;)"
      R"( *wrongid*) printf '{"id":%s9,"label":"x","score":1}\n' "$id";;)"
      R"( *badutf8*) printf '{"id":%s,"label":"\377","score":1}\n' "$id";;)"
      R"( *huge*) head -c 1100000 /dev/zero | tr '\0' a; echo;;)"
      R"( *longid*) printf '{"id":[%s' "$id"; i=0; while [ $i -lt 300 ]; do printf ',%d' $i; i=$((i+1)); done; printf '],"label":"x","score":1}\n';;)"
      R"( *twolines*) printf '{"id":%s,"label":"ok","score":1}\n{"id":0}\n' "$id";;)"
      R"( *) printf '{"id":%s,"label":"ok","score":1}\n' "$id";; esac; done)";
  ServerProc s({"--model", "exec", "--exec", model, "--max-attempts", "1", "--tier", "fast=1000/s"});
  std::string key = s.create_key("alice", {"--tier", "fast"});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"notjson", R"(model response is not a JSON object: "Loading weights...")"},
      {"wrongid", "model response has id "},
      {"badutf8", "model response is not a JSON object: "},
      {"huge", "model response is longer than 1048576 bytes"},
      {"longid", "model response has id [" },
  };
  for (auto& [word, error] : cases) {
    CAPTURE(word);
    json j = run_job(s, key, "please answer " + word + " this time");
    CHECK(j["status"] == "failed");
    const std::string got = j["error"];
    CAPTURE(got);
    CHECK(got.rfind(error, 0) == 0);
    CHECK(got.size() < 200);
    run_job_ok(s, key);
  }
  // Two lines for one job: the job's own (first) line counts, the child is
  // replaced so the extra line is never read as the next job's answer.
  CHECK(run_job(s, key, "please answer twolines this time")["status"] == "completed");
  run_job_ok(s, key);
  CHECK(s.client().Get("/health")->status == 200);
}

TEST_CASE("exec: a model error past 1000 bytes is cut at a character boundary, and GET and `mlgate jobs show` both print it") {
  // 1 + 600 two-byte characters: byte 1000 falls inside one. The cut used to
  // leave half a character, and `jobs show` then failed to print the job.
  const std::string model = R"(while IFS= read -r line; do id=${line#\{\"id\":}; id=${id%%,*}; )"
      R"(printf '{"id":%s,"error":"a' "$id"; i=0; while [ $i -lt 600 ]; do printf 'é'; i=$((i+1)); done; printf '"}\n'; done)";
  ServerProc s({"--model", "exec", "--exec", model, "--max-attempts", "1"});
  std::string key = s.create_key("alice");
  json j = run_job(s, key, "any text makes a long error");
  REQUIRE(j["status"] == "failed");
  const std::string error = j["error"];
  CHECK(error.rfind("model error: a\xc3\xa9", 0) == 0);
  CHECK(error.find("\xef\xbf\xbd") == std::string::npos);  // no U+FFFD stand-in
  CHECK(error.substr(error.size() - 5) == "\xc3\xa9...");
  CliResult show = run_cli({"jobs", "show", j["job_uuid"], "--data-dir", s.dir()});
  CHECK(show.status == 0);
  CHECK(show.out.find("model error: a") != std::string::npos);
}

TEST_CASE("exec: the model's process killed from outside (as the OOM killer would) fails only the job it held; the next job gets a new one") {
  std::string model = ok_model_with(R"(case "$line" in *slow*) sleep 2;; esac;)");
  // One attempt: a job sent to a dead child would fail, not be retried.
  ServerProc s({"--model", "exec", "--exec", model, "--max-attempts", "1"});
  std::string key = s.create_key("alice");
  run_job_ok(s, key);

  // Idle: killed between jobs.
  pid_t idle = model_pid(s);
  REQUIRE(idle > 0);
  REQUIRE(::kill(idle, SIGKILL) == 0);
  run_job_ok(s, key);
  CHECK(model_pid(s) != idle);

  // Busy: killed while it holds a job.
  auto c = s.client();
  auto r = post_predict(c, key, "a slow one this time");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  const std::string id = json::parse(r->body)["job_uuid"];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto g = c.Get("/jobs/" + id, {{"X-API-Key", key}});
    if (g && json::parse(g->body)["status"] == "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_t busy = model_pid(s);
  REQUIRE(busy > 0);
  REQUIRE(::kill(busy, SIGKILL) == 0);
  json failed = wait_finished(c, key, id);
  CHECK(failed["status"] == "failed");
  CHECK(failed["error"] == "model process was killed by signal 9");
  run_job_ok(s, key);
  CHECK(c.Get("/health")->status == 200);
}

TEST_CASE("exec: the model's process dies with the server, even when the server is SIGKILLed") {
  // A model that holds its job without reading its standard input again
  // would never see the EOF that a dead server's pipe gives it.
  std::string model = ok_model_with(R"(case "$line" in *hold*) sleep 30;; esac;)");
  ServerProc s({"--model", "exec", "--exec", model});
  std::string key = s.create_key("alice");
  run_job_ok(s, key);
  auto c = s.client();
  auto r = post_predict(c, key, "hold this one for a while");
  REQUIRE(r);
  REQUIRE(r->status == 202);
  pid_t child = model_pid(s);
  REQUIRE(child > 0);
  s.signal(SIGKILL);
  s.wait_exit();
  // Running means: the pid exists and is not a zombie waiting for its new
  // parent (not every container's init reaps promptly).
  auto running = [&] {
    std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
    std::string pid, comm, state;
    if (!(stat >> pid >> comm >> state)) return false;
    return state != "Z" && state != "X";
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(running());  // not orphaned and still holding its job
}
